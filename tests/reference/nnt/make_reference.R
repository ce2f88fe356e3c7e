# Independent reference values for the NNT of workbench.trial.risk_compare, computed by R (base R).
#
# Run from the repository root (after tests/reference/trial/make_data.py):
#     Rscript tests/reference/nnt/make_reference.R
#
# Method (Altman DG. Confidence intervals for the number needed to treat. BMJ 1998;317:1309;
# rounding up: Cook RJ, Sackett DL. BMJ 1995;310:452):
#   RD and its Wald interval: prop.test(c(x1, x0), c(n1, n0), correct = FALSE)$conf.int
#   NNT = ceiling(1 / |RD|): NNTB when the arm's event (a desirable one) is more frequent, NNTH when less
#   interval: the reciprocals of RD's limits; when RD's interval includes 0 it is
#   "NNTB 1/upper to infinity to NNTH 1/|lower|" (through_infinity = TRUE)
# Inputs: tests/reference/trial/data_rct.csv (the sample trial, wide). The sample cases recompute
# remission (12-month PHQ-9 < 5) and response (fall >= 50%) from the raw scores, for baseline
# PHQ-9 >= 10 only (REFERENCE.md "Change and outcome metrics"; CMS159 index PHQ-9 > 9), without
# using the data's own outcome columns. The other cases are counts chosen to cover benefit, harm,
# an interval through infinity and a 90% level.
# Output: r_nnt.csv (15 significant digits) and R_SESSION.txt. Never edit r_nnt.csv by hand.

dir <- "tests/reference/nnt"
rct <- read.csv("tests/reference/trial/data_rct.csv", stringsAsFactors = FALSE)

sample_counts <- function(flag) {
  keep <- !is.na(rct$phq9_0) & rct$phq9_0 >= 10 & !is.na(rct$phq9_12)
  d <- rct[keep, ]
  y <- flag(d)
  c(x1 = sum(y[d$arm == "intervention"]), n1 = sum(d$arm == "intervention"),
    x0 = sum(y[d$arm == "usual_care"]), n0 = sum(d$arm == "usual_care"))
}
rem <- sample_counts(function(d) d$phq9_12 < 5)
resp <- sample_counts(function(d) d$phq9_0 - d$phq9_12 >= 0.5 * d$phq9_0)

cases <- list(
  list(case = "sample_remission_12", x1 = rem[["x1"]], n1 = rem[["n1"]], x0 = rem[["x0"]], n0 = rem[["n0"]], conf = 0.95),
  list(case = "sample_response_12", x1 = resp[["x1"]], n1 = resp[["n1"]], x0 = resp[["x0"]], n0 = resp[["n0"]], conf = 0.95),
  list(case = "benefit", x1 = 30, n1 = 50, x0 = 15, n0 = 49, conf = 0.95),
  list(case = "harm", x1 = 10, n1 = 60, x0 = 25, n0 = 55, conf = 0.95),
  list(case = "through_infinity", x1 = 20, n1 = 50, x0 = 15, n0 = 50, conf = 0.95),
  list(case = "through_infinity_harm_point", x1 = 12, n1 = 40, x0 = 15, n0 = 42, conf = 0.95),
  list(case = "benefit_90", x1 = 45, n1 = 80, x0 = 30, n0 = 80, conf = 0.90)
)
rows <- list()
for (k in cases) {
  pt <- prop.test(c(k$x1, k$x0), c(k$n1, k$n0), conf.level = k$conf, correct = FALSE)
  rd <- k$x1 / k$n1 - k$x0 / k$n0
  lo <- pt$conf.int[1]; hi <- pt$conf.int[2]
  through <- lo < 0 && 0 < hi
  if (through) {
    l <- 1 / hi; lk <- "NNTB"; h <- 1 / abs(lo); hk <- "NNTH"
  } else if (lo >= 0) {
    l <- 1 / hi; lk <- "NNTB"; h <- 1 / lo; hk <- "NNTB"
  } else {
    l <- 1 / abs(lo); lk <- "NNTH"; h <- 1 / abs(hi); hk <- "NNTH"
  }
  rows[[length(rows) + 1]] <- data.frame(
    case = k$case, events = k$x1, n = k$n1, events_reference = k$x0, n_reference = k$n0, alpha = 1 - k$conf,
    risk_difference = rd, rd_ci_low = lo, rd_ci_high = hi,
    nnt = ceiling(1 / abs(rd) - 1e-9),  # tolerance: 1/0.1 is 10.000000000000002 in floating point
    nnt_kind = if (rd > 0) "NNTB" else "NNTH", nnt_unrounded = 1 / abs(rd),
    nnt_ci_low = l, nnt_ci_low_kind = lk, nnt_ci_high = h, nnt_ci_high_kind = hk,
    nnt_ci_through_infinity = through,
    r_call = sprintf("prop.test(c(%d, %d), c(%d, %d), conf.level = %g, correct = FALSE)$conf.int; NNT by hand (Altman 1998)",
                     as.integer(k$x1), as.integer(k$x0), as.integer(k$n1), as.integer(k$n0), k$conf))
}
write.csv(do.call(rbind, rows), file.path(dir, "r_nnt.csv"), row.names = FALSE)
writeLines(capture.output(sessionInfo()), file.path(dir, "R_SESSION.txt"))
