# Reference numbers at risk for tests/test_km_plot.py (km_plot's number-at-risk table).
# Run from the repository root:  Rscript tests/reference/km_plot/make_reference.R
# Writes data.csv (the small data set, durations in days) and n_risk.csv: R's
# summary(survfit(Surv(days, event) ~ 1 or ~ arm), times = month ticks, extend = TRUE)$n.risk,
# where a month is 365.25 / 12 days (workbench.plots.DAYS_PER_MONTH).
library(survival)
out <- "tests/reference/km_plot"
d <- data.frame(
  days  = c(5, 20, 30, 31, 45, 61, 75, 91, 92, 110, 123, 140, 150, 183, 200,
            12, 28, 37, 60, 62, 88, 95, 101, 130, 152, 160, 175, 190, 210, 214),
  event = c(1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0,
            0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0),
  arm   = rep(c("intervention", "usual_care"), each = 15))
write.csv(d, file.path(out, "data.csv"), row.names = FALSE)
month <- 365.25 / 12
ticks <- 0:8                      # whole months 0..8 (past the last time: extend = TRUE gives 0)
rows <- list()
s <- summary(survfit(Surv(days, event) ~ 1, data = d), times = ticks * month, extend = TRUE)
rows[[1]] <- data.frame(group = "", month = ticks, n_risk = s$n.risk)
s <- summary(survfit(Surv(days, event) ~ arm, data = d), times = ticks * month, extend = TRUE)
rows[[2]] <- data.frame(group = sub("arm=", "", as.character(s$strata)), month = s$time / month, n_risk = s$n.risk)
res <- do.call(rbind, rows)
res$month <- round(res$month)
write.csv(res, file.path(out, "n_risk.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival"))), file.path(out, "versions.txt"))
