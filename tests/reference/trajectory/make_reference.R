# Independent reference values for workbench.trial.trajectory, computed by R (base R + stats).
#
# Run from the repository root (after tests/reference/trial/make_data.py):
#     Rscript tests/reference/trajectory/make_reference.R
#
# Mean PHQ-9 and GAD-7 by arm and visit month (0, 6, 12) of the sample trial
# (tests/reference/trial/data_rct.csv), each on the residents scored at that visit, with
# t.test(y, conf.level = 0.95)$conf.int (and 0.90 for PHQ-9); n, sd and the count missing.
# Output: r_trajectory.csv (15 significant digits) and R_SESSION.txt. Never edit by hand.

dir <- "tests/reference/trajectory"
rct <- read.csv("tests/reference/trial/data_rct.csv", stringsAsFactors = FALSE)
rows <- list()
for (spec in list(list(prefix = "phq9", conf = 0.95), list(prefix = "gad7", conf = 0.95),
                  list(prefix = "phq9", conf = 0.90))) {
  for (a in sort(unique(rct$arm))) {
    for (m in c(0, 6, 12)) {
      yall <- rct[[paste0(spec$prefix, "_", m)]][rct$arm == a]
      y <- yall[!is.na(yall)]
      tt <- t.test(y, conf.level = spec$conf)
      rows[[length(rows) + 1]] <- data.frame(
        prefix = spec$prefix, alpha = 1 - spec$conf, arm = a, month = m, n = length(y), mean = mean(y),
        sd = sd(y), se = sd(y) / sqrt(length(y)), ci_low = tt$conf.int[1], ci_high = tt$conf.int[2],
        n_missing = sum(is.na(yall)),
        r_call = sprintf("t.test(%s_%d[arm == '%s'], conf.level = %g)$conf.int", spec$prefix, m, a, spec$conf))
    }
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "r_trajectory.csv"), row.names = FALSE)
writeLines(capture.output(sessionInfo()), file.path(dir, "R_SESSION.txt"))
