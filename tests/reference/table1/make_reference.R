# Independent reference values for workbench/table1.py, computed by base R (stats).
#
# Run from the repository root:
#     Rscript tests/reference/table1/make_reference.R
#
# Generates a seeded dataset and writes it, then R's p-values and SMDs beside it:
#
#   data_table1.csv   one row per person: arm (2 groups), site (3 groups), sex (NA in places),
#                     edu (3 levels), smoker (rare "yes": Fisher's exact), age, bmi (normal),
#                     phq9 (skewed integer with ties; NA in places)
#   r_table1.csv      by grouping (arm, site) and variable: test, p_value, smd
#                     categorical: chisq.test(tab, correct = FALSE), or fisher.test(tab) when any
#                              expected count < 5 (levels / groups with no persons dropped)
#                     continuous, 2 groups: t.test(x ~ g) (Welch);  >2 groups: summary(aov(x ~ g))
#                     nonnormal (phq9), 2 groups: wilcox.test(x ~ g, exact = FALSE, correct = TRUE)
#                              >2 groups: kruskal.test(x ~ g)
#                     smd (arm only, second group minus first): continuous (m1-m0)/sqrt((s1^2+s0^2)/2);
#                              binary (p1-p0)/sqrt((p1(1-p1)+p0(1-p0))/2) for the second level;
#                              >2 levels: Yang & Dalton sqrt(T' S^-1 T)
#   R_SESSION.txt     sessionInfo()
#
# Numbers are written with 15 significant digits. Never edit r_*.csv by hand.

file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(file_arg) == 1) dirname(normalizePath(sub("^--file=", "", file_arg))) else "tests/reference/table1"
path <- function(name) file.path(here, name)

set.seed(20240612)
n <- 240
arm <- sample(c("control", "intervention"), n, replace = TRUE)
site <- sample(c("east", "north", "west"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
sex <- sample(c("female", "male"), n, replace = TRUE, prob = c(0.6, 0.4))
sex[sample(n, 12)] <- NA
edu <- sample(c("primary", "secondary", "tertiary"), n, replace = TRUE, prob = c(0.3, 0.5, 0.2))
smoker <- ifelse(runif(n) < 0.03, "yes", "no")
age <- round(rnorm(n, 58 + 3 * (arm == "intervention"), 11), 1)
bmi <- round(rnorm(n, 24 + (site == "west"), 3.2), 1)
phq9 <- pmin(27, rpois(n, ifelse(arm == "intervention", 6, 7) + 2 * (site == "north")))
phq9[sample(n, 15)] <- NA
d <- data.frame(arm, site, sex, edu, smoker, age, bmi, phq9)
write.csv(d, path("data_table1.csv"), row.names = FALSE, na = "")

categorical <- c("sex", "edu", "smoker")
continuous <- c("age", "bmi")
nonnormal <- c("phq9")

cat_test <- function(x, g) {
  tab <- table(x, g)
  tab <- tab[rowSums(tab) > 0, colSums(tab) > 0, drop = FALSE]
  expected <- outer(rowSums(tab), colSums(tab)) / sum(tab)
  if (any(expected < 5)) list(test = "Fisher's exact", p = fisher.test(tab)$p.value)
  else list(test = "chi-square", p = chisq.test(tab, correct = FALSE)$p.value)
}
cat_smd <- function(x, g) {
  lv <- levels(factor(g))
  tab <- table(factor(x), factor(g, levels = lv))
  p0 <- tab[, 1] / sum(tab[, 1]); p1 <- tab[, 2] / sum(tab[, 2])
  if (length(p0) == 2) return((p1[2] - p0[2]) / sqrt((p1[2] * (1 - p1[2]) + p0[2] * (1 - p0[2])) / 2))
  t <- (p1 - p0)[-1]; q0 <- p0[-1]; q1 <- p1[-1]
  s <- (diag(q1) - outer(q1, q1) + diag(q0) - outer(q0, q0)) / 2
  sqrt(drop(t %*% solve(s) %*% t))
}
cont_smd <- function(x, g) {
  lv <- levels(factor(g)); x0 <- x[g == lv[1] & !is.na(x)]; x1 <- x[g == lv[2] & !is.na(x)]
  (mean(x1) - mean(x0)) / sqrt((var(x1) + var(x0)) / 2)
}

rows <- list()
for (grouping in c("arm", "site")) {
  g <- d[[grouping]]
  two <- length(unique(g)) == 2
  for (v in c(categorical, continuous, nonnormal)) {
    x <- d[[v]]
    if (v %in% categorical) {
      r <- cat_test(x, g); s <- if (two) cat_smd(x, g) else NA
    } else if (v %in% continuous) {
      r <- if (two) list(test = "Welch t-test", p = t.test(x ~ g)$p.value)
           else list(test = "one-way ANOVA", p = summary(aov(x ~ factor(g)))[[1]][["Pr(>F)"]][1])
      s <- if (two) cont_smd(x, g) else NA
    } else {
      r <- if (two) list(test = "Mann-Whitney U", p = wilcox.test(x ~ g, exact = FALSE, correct = TRUE)$p.value)
           else list(test = "Kruskal-Wallis", p = kruskal.test(x ~ factor(g))$p.value)
      s <- if (two) cont_smd(x, g) else NA
    }
    rows[[length(rows) + 1]] <- data.frame(grouping = grouping, variable = v, test = r$test,
                                           p_value = signif(r$p, 15), smd = signif(unname(s), 15),
                                           missing = sum(is.na(x)))
  }
}
write.csv(do.call(rbind, rows), path("r_table1.csv"), row.names = FALSE, na = "")
writeLines(capture.output(sessionInfo()), path("R_SESSION.txt"))
