# Independent reference values for workbench/trial.py, computed by R (base R + stats only).
#
# Run from the repository root:
#     Rscript tests/reference/trial/make_reference.R
#
# Inputs:
#   data_rct.csv         the sample trial, wide (written by make_data.py from workbench.sample):
#                        arm, phq9_0/6/12, gad7_0/6/12, response_12, remission_12 (NA = missing or
#                        not applicable: both apply only to a baseline PHQ-9 >= 10)
#   data_three_arm.csv   written here: a seeded 3-arm trial with missing outcomes and baselines,
#                        plus binary outcomes with one arm having zero events
# Outputs (write.csv, 15 significant digits; NA stays NA):
#   r_ancova.csv   summary(lm(y ~ baseline + arm)) and confint(): arm rows only
#   r_hedges.csv   Hedges' g by hand (Hedges & Olkin 1985; Borenstein et al. 2009 eqs 4.18-4.24)
#   r_risk.csv     RD with prop.test(correct = FALSE)$conf.int (Wald) and by hand; RR with the
#                  log-scale (Katz) interval by hand; NNT = 1/|RD| rounded up (Cook & Sackett 1995;
#                  Altman 1998), NA when RD = 0 (its interval: tests/reference/nnt/make_reference.R)
#   R_SESSION.txt  sessionInfo()
# Every row carries `case`, `data`, the column arguments and the R call (`r_call`).
# Never edit the r_*.csv files by hand, and never replace them with Python output.

dir <- "tests/reference/trial"
rct <- read.csv(file.path(dir, "data_rct.csv"), stringsAsFactors = FALSE)

set.seed(20240611)
n <- 90
three <- data.frame(arm = rep(c("a_low", "b_high", "control"), each = n / 3))
three$baseline <- round(rnorm(n, 14, 4))
shift <- c(a_low = -1.5, b_high = -3.5, control = 0)[three$arm]
three$outcome <- round(0.6 * three$baseline + 4 + shift + rnorm(n, 0, 3), 1)
three$outcome[sample(n, 9)] <- NA
three$baseline[sample(n, 3)] <- NA
three$remitted <- as.integer(three$outcome < 8)
three$rare <- ifelse(three$arm == "a_low", 0L, rbinom(n, 1, 0.2))
three$rare[is.na(three$outcome)] <- NA
write.csv(three, file.path(dir, "data_three_arm.csv"), row.names = FALSE)
datasets <- list(data_rct.csv = rct, data_three_arm.csv = three)

ancova_cases <- list(
  list(case = "rct_phq9_12", data = "data_rct.csv", outcome = "phq9_12", baseline = "phq9_0", reference = "usual_care", conf = 0.95),
  list(case = "rct_gad7_12", data = "data_rct.csv", outcome = "gad7_12", baseline = "gad7_0", reference = "usual_care", conf = 0.95),
  list(case = "rct_phq9_6_90", data = "data_rct.csv", outcome = "phq9_6", baseline = "phq9_0", reference = "usual_care", conf = 0.90),
  list(case = "three_arm", data = "data_three_arm.csv", outcome = "outcome", baseline = "baseline", reference = "control", conf = 0.95),
  list(case = "three_arm_ref_b", data = "data_three_arm.csv", outcome = "outcome", baseline = "baseline", reference = "b_high", conf = 0.99)
)
rows <- list()
for (k in ancova_cases) {
  d <- datasets[[k$data]]
  d$y <- d[[k$outcome]]; d$x <- d[[k$baseline]]
  d$arm <- relevel(factor(d$arm), ref = k$reference)
  fit <- lm(y ~ x + arm, data = d)          # na.action = na.omit: complete cases
  co <- summary(fit)$coefficients
  ci <- confint(fit, level = k$conf)
  for (term in grep("^arm", rownames(co), value = TRUE)) {
    rows[[length(rows) + 1]] <- data.frame(
      case = k$case, data = k$data, outcome = k$outcome, baseline = k$baseline, reference = k$reference,
      alpha = 1 - k$conf, arm = sub("^arm", "", term), effect = co[term, 1], se = co[term, 2],
      ci_low = ci[term, 1], ci_high = ci[term, 2], p_value = co[term, 4], n = nobs(fit),
      n_excluded = length(fit$na.action),
      r_call = sprintf("confint(lm(%s ~ %s + relevel(factor(arm), '%s'), data), level = %g)",
                       k$outcome, k$baseline, k$reference, k$conf))
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "r_ancova.csv"), row.names = FALSE)

hedges <- function(y1, y0, conf) {
  n1 <- length(y1); n0 <- length(y0)
  sp <- sqrt(((n1 - 1) * var(y1) + (n0 - 1) * var(y0)) / (n1 + n0 - 2))
  d <- (mean(y1) - mean(y0)) / sp
  J <- 1 - 3 / (4 * (n1 + n0 - 2) - 1)
  vd <- (n1 + n0) / (n1 * n0) + d^2 / (2 * (n1 + n0))
  g <- J * d; se <- sqrt(J^2 * vd); z <- qnorm(1 - (1 - conf) / 2)
  c(g = g, se = se, ci_low = g - z * se, ci_high = g + z * se, n = n1, n_reference = n0)
}
hedges_cases <- list(
  list(case = "rct_phq9_12", data = "data_rct.csv", outcome = "phq9_12", reference = "usual_care", conf = 0.95),
  list(case = "rct_gad7_6", data = "data_rct.csv", outcome = "gad7_6", reference = "usual_care", conf = 0.95),
  list(case = "three_arm", data = "data_three_arm.csv", outcome = "outcome", reference = "control", conf = 0.90)
)
rows <- list()
for (k in hedges_cases) {
  d <- datasets[[k$data]]
  y0 <- d[[k$outcome]][d$arm == k$reference]
  for (a in setdiff(sort(unique(d$arm)), k$reference)) {
    y1 <- d[[k$outcome]][d$arm == a]
    h <- hedges(y1[!is.na(y1)], y0[!is.na(y0)], k$conf)
    rows[[length(rows) + 1]] <- data.frame(
      case = k$case, data = k$data, outcome = k$outcome, reference = k$reference, alpha = 1 - k$conf,
      arm = a, t(h), n_excluded = sum(is.na(y1)) + sum(is.na(y0)),
      r_call = "by hand: J = 1 - 3/(4(n1+n0-2)-1); g = J d; se = sqrt(J^2 ((n1+n0)/(n1 n0) + d^2/(2(n1+n0))))")
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "r_hedges.csv"), row.names = FALSE)

risk_cases <- list(
  list(case = "rct_response_12", data = "data_rct.csv", outcome = "response_12", reference = "usual_care", conf = 0.95),
  list(case = "rct_remission_12", data = "data_rct.csv", outcome = "remission_12", reference = "usual_care", conf = 0.95),
  list(case = "three_arm_remitted", data = "data_three_arm.csv", outcome = "remitted", reference = "control", conf = 0.90),
  list(case = "three_arm_rare", data = "data_three_arm.csv", outcome = "rare", reference = "control", conf = 0.95)
)
rows <- list()
for (k in risk_cases) {
  d <- datasets[[k$data]]
  y0 <- d[[k$outcome]][d$arm == k$reference]; y0 <- y0[!is.na(y0)]
  for (a in setdiff(sort(unique(d$arm)), k$reference)) {
    y1all <- d[[k$outcome]][d$arm == a]; y1 <- y1all[!is.na(y1all)]
    x1 <- sum(y1); n1 <- length(y1); x0 <- sum(y0); n0 <- length(y0)
    p1 <- x1 / n1; p0 <- x0 / n0; z <- qnorm(1 - (1 - k$conf) / 2)
    pt <- suppressWarnings(prop.test(c(x1, x0), c(n1, n0), conf.level = k$conf, correct = FALSE))
    rd <- p1 - p0; se_rd <- sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    rr <- p1 / p0
    se_log <- if (x1 > 0 && x0 > 0) sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0) else NA
    lo <- rd - z * se_rd; hi <- rd + z * se_rd
    rows[[length(rows) + 1]] <- data.frame(
      case = k$case, data = k$data, outcome = k$outcome, reference = k$reference, alpha = 1 - k$conf,
      arm = a, risk = p1, risk_reference = p0, risk_difference = rd,
      rd_ci_low = pt$conf.int[1], rd_ci_high = pt$conf.int[2],
      rd_ci_low_by_hand = lo, rd_ci_high_by_hand = hi,
      risk_ratio = rr, rr_ci_low = exp(log(rr) - z * se_log), rr_ci_high = exp(log(rr) + z * se_log),
      nnt = if (rd == 0) NA else ceiling(1 / abs(rd) - 1e-9),  # tolerance: 1/0.1 is 10.000000000000002 in floating point
      nnt_kind = if (rd > 0) "NNTB" else if (rd < 0) "NNTH" else NA,
      events = x1, n = n1, events_reference = x0, n_reference = n0,
      n_excluded = sum(is.na(y1all)) + sum(is.na(d[[k$outcome]][d$arm == k$reference])),
      r_call = sprintf("prop.test(c(%d, %d), c(%d, %d), conf.level = %g, correct = FALSE)$conf.int; RR Katz log CI by hand",
                       x1, x0, n1, n0, k$conf))
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "r_risk.csv"), row.names = FALSE)

# ancova docstring example (workbench/trial.py), printed for the record
ex <- data.frame(arm = rep(c("ic", "uc"), 5), phq9_0 = c(10, 12, 8, 9, 15, 14, 11, 10, 13, 9),
                 phq9_12 = c(4, 9, 3, 8, 7, 12, NA, 9, 6, 7))
ex$arm <- relevel(factor(ex$arm), "uc")
print(summary(lm(phq9_12 ~ phq9_0 + arm, ex))$coefficients)

writeLines(c("# sessionInfo() of the R that wrote the r_*.csv files (make_reference.R)",
             capture.output(sessionInfo())), file.path(dir, "R_SESSION.txt"))
