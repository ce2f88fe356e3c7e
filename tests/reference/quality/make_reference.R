# Independent reference values for the ratio and rate indicators of workbench/quality.py
# (A4 rural-urban equity: a ratio of two proportions; S2 crisis rate: events per person-years).
#
# Run from the repository root:
#     Rscript tests/reference/quality/make_reference.R
#
# Writes, with 15 significant digits (never edit the r_*.csv files by hand):
#   r_ratio.csv  per case: x1/n1 (numerator group), x2/n2 (denominator group), the ratio of the
#                two proportions and its Katz log (Wald) interval from epitools::riskratio.wald
#                (the denominator group is the reference row), conf.level 0.95 and 0.90
#   r_rate.csv   per case: events x in person-years t, rate per 1,000 person-years and its exact
#                interval from poisson.test(x, t)$conf.int (Garwood), conf.level 0.95 and 0.90
#   R_SESSION.txt  sessionInfo()

suppressPackageStartupMessages(library(epitools))
file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(file_arg) == 1) dirname(normalizePath(sub("^--file=", "", file_arg))) else "tests/reference/quality"
path <- function(name) file.path(here, name)
write_num <- function(df, name) {
  for (c in names(df)) if (is.numeric(df[[c]])) df[[c]] <- signif(df[[c]], 15)
  write.csv(df, path(name), row.names = FALSE, na = "")
}

ratio_cases <- data.frame(x1 = c(30, 5, 12, 41), n1 = c(60, 40, 12, 97), x2 = c(55, 20, 30, 88), n2 = c(80, 50, 40, 120))
rows <- list()
for (i in seq_len(nrow(ratio_cases))) {
  for (level in c(0.95, 0.90)) {
    k <- ratio_cases[i, ]
    # rows: exposure (reference = the denominator group first); columns: no, yes
    tab <- matrix(c(k$n2 - k$x2, k$x2, k$n1 - k$x1, k$x1), nrow = 2, byrow = TRUE)
    rr <- riskratio.wald(tab, conf.level = level, correction = FALSE)$measure
    rows[[length(rows) + 1]] <- data.frame(k, conf_level = level, ratio = rr[2, "estimate"],
                                           lower = rr[2, "lower"], upper = rr[2, "upper"])
  }
}
write_num(do.call(rbind, rows), "r_ratio.csv")

rate_cases <- data.frame(x = c(0, 3, 12, 57), t = c(8.5, 9.25, 40.1, 310.7))
rows <- list()
for (i in seq_len(nrow(rate_cases))) {
  for (level in c(0.95, 0.90)) {
    k <- rate_cases[i, ]
    ci <- poisson.test(k$x, k$t, conf.level = level)$conf.int
    rows[[length(rows) + 1]] <- data.frame(k, conf_level = level, rate = 1000 * k$x / k$t,
                                           lower = 1000 * ci[1], upper = 1000 * ci[2])
  }
}
write_num(do.call(rbind, rows), "r_rate.csv")

writeLines(capture.output(sessionInfo()), path("R_SESSION.txt"))
