# Independent reference values for workbench/epi.py, computed by base R (stats) and epitools.
#
# Run from the repository root:
#     Rscript tests/reference/epi/make_reference.R
#
# Generates the datasets (fixed seed) and writes them, then R's results beside them:
#
#   data_prevalence.csv   one row per person: site, depressed (0/1, some NA)
#   data_incidence.csv    one row per person: site, events (count), person_years
#   data_standardize.csv  one row per person: region, age_group, case (0/1)
#   std_pop.csv           a standard population used for the direct standardisation
#   r_prevalence.csv      prop.test(x, n, correct = FALSE)$conf.int and binom.test(x, n)$conf.int
#   r_incidence.csv       poisson.test(x, t, conf.level = ...)
#   r_rate_ratio.csv      poisson.test(c(x1, x2), c(t1, t2)): estimate, conf.int, p.value
#   r_standardize.csv     epitools::ageadjust.direct(count, pop, stdpop = ...)
#   R_SESSION.txt         sessionInfo()
#
# Numbers are written with 15 significant digits. Never edit the r_*.csv files by hand.

suppressPackageStartupMessages(library(epitools))
file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(file_arg) == 1) dirname(normalizePath(sub("^--file=", "", file_arg))) else "tests/reference/epi"
path <- function(name) file.path(here, name)
write_num <- function(df, name) {
  for (c in names(df)) if (is.numeric(df[[c]])) df[[c]] <- signif(df[[c]], 15)
  write.csv(df, path(name), row.names = FALSE, na = "")
}

set.seed(20240611)

# --- prevalence ---------------------------------------------------------------------------
n <- 450
site <- sample(c("A", "B", "C", "D"), n, replace = TRUE, prob = c(0.4, 0.3, 0.25, 0.05))
p <- c(A = 0.18, B = 0.08, C = 0.30, D = 0.02)[site]
depressed <- rbinom(n, 1, p)
depressed[sample(n, 25)] <- NA
prev <- data.frame(site = site, depressed = depressed)
write_num(prev, "data_prevalence.csv")

rows <- list()
for (level in c(0.95, 0.90)) {
  for (s in c("ALL", sort(unique(site)))) {
    y <- if (s == "ALL") prev$depressed else prev$depressed[prev$site == s]
    y <- y[!is.na(y)]
    x <- sum(y); m <- length(y)
    w <- prop.test(x, m, correct = FALSE, conf.level = level)$conf.int
    b <- binom.test(x, m, conf.level = level)$conf.int
    rows[[length(rows) + 1]] <- data.frame(site = s, conf_level = level, n = m, cases = x,
      prevalence = x / m, wilson_low = w[1], wilson_high = w[2], exact_low = b[1], exact_high = b[2])
  }
}
write_num(do.call(rbind, rows), "r_prevalence.csv")

# --- incidence ----------------------------------------------------------------------------
n <- 300
site <- sample(c("A", "B", "C"), n, replace = TRUE)
person_years <- round(runif(n, 0.05, 3), 3)
rate <- c(A = 0.10, B = 0.25, C = 0.04)[site]
events <- rpois(n, rate * person_years)
inc <- data.frame(site = site, events = events, person_years = person_years)
write_num(inc, "data_incidence.csv")

rows <- list()
for (level in c(0.95, 0.90)) {
  for (s in c("ALL", sort(unique(site)))) {
    d <- if (s == "ALL") inc else inc[inc$site == s, ]
    x <- sum(d$events); t <- sum(d$person_years)
    r <- poisson.test(x, t, conf.level = level)
    rows[[length(rows) + 1]] <- data.frame(site = s, conf_level = level, events = x, person_time = t,
      rate = unname(r$estimate), ci_low = r$conf.int[1], ci_high = r$conf.int[2])
  }
}
write_num(do.call(rbind, rows), "r_incidence.csv")

rows <- list()
for (ref in c("A", "C")) {
  for (s in setdiff(sort(unique(site)), ref)) {
    x1 <- sum(inc$events[inc$site == s]); t1 <- sum(inc$person_years[inc$site == s])
    x2 <- sum(inc$events[inc$site == ref]); t2 <- sum(inc$person_years[inc$site == ref])
    r <- poisson.test(c(x1, x2), c(t1, t2))
    rows[[length(rows) + 1]] <- data.frame(reference = ref, site = s, events = x1, person_time = t1,
      ref_events = x2, ref_person_time = t2, rate_ratio = unname(r$estimate),
      ci_low = r$conf.int[1], ci_high = r$conf.int[2], p_value = r$p.value)
  }
}
write_num(do.call(rbind, rows), "r_rate_ratio.csv")

# --- direct standardisation ---------------------------------------------------------------
groups <- c("0-14", "15-29", "30-44", "45-59", "60-74", "75+")
std <- data.frame(age_group = groups, population = c(25000, 22000, 21000, 17000, 11000, 4000))
write_num(std, "std_pop.csv")
n <- 2500
region <- sample(c("rural", "urban"), n, replace = TRUE, prob = c(0.45, 0.55))
age_group <- ifelse(region == "rural",
  sample(groups, n, replace = TRUE, prob = c(0.12, 0.13, 0.18, 0.22, 0.22, 0.13)),
  sample(groups, n, replace = TRUE, prob = c(0.18, 0.25, 0.24, 0.18, 0.11, 0.04)))
risk <- c(0.01, 0.03, 0.05, 0.07, 0.10, 0.14)[match(age_group, groups)] * ifelse(region == "rural", 1.3, 1)
case <- rbinom(n, 1, risk)
sdat <- data.frame(region = region, age_group = age_group, case = case)
write_num(sdat, "data_standardize.csv")

rows <- list()
for (level in c(0.95, 0.90)) {
  for (r in c("ALL", "rural", "urban")) {
    d <- if (r == "ALL") sdat else sdat[sdat$region == r, ]
    count <- sapply(groups, function(g) sum(d$case[d$age_group == g]))
    pop <- sapply(groups, function(g) sum(d$age_group == g))
    a <- ageadjust.direct(count = count, pop = pop, stdpop = std$population, conf.level = level)
    rows[[length(rows) + 1]] <- data.frame(region = r, conf_level = level, crude = a[["crude.rate"]],
      adjusted = a[["adj.rate"]], ci_low = a[["lci"]], ci_high = a[["uci"]])
  }
}
write_num(do.call(rbind, rows), "r_standardize.csv")

writeLines(capture.output(sessionInfo()), path("R_SESSION.txt"))
