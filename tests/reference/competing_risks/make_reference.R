# Aalen-Johansen cumulative incidence of each way of leaving care, by R's survival package
# (multi-state survfit: Surv(time, factor(event)) with 0 = censored). Inputs written by
# make_competing_data.py (the sample's dropout and remission endpoints) and a hand-worked set of 8.
# Run from the repository root: Rscript tests/reference/competing_risks/make_reference.R
suppressPackageStartupMessages(library(survival))
here <- "tests/reference/competing_risks"
d <- read.csv(file.path(here, "data_sample_endpoints.csv"))
hand <- data.frame(dataset = "hand", resident_id = paste0("h", 1:8), tier = 2,
                   duration = 1:8, event = c(1, 3, 0, 1, 3, 1, 0, 3))
d <- rbind(d, hand)
times <- c(30, 90, 180, 365, 730)
out <- list()
for (ds in unique(d$dataset)) {
  for (tier in sort(unique(d$tier[d$dataset == ds]))) {
    x <- d[d$dataset == ds & d$tier == tier, ]
    fit <- survfit(Surv(duration, factor(event, levels = c(0, 1, 2, 3))) ~ 1, data = x)
    at <- if (ds == "hand") c(1, 2, 4, 5, 6, 8) else times
    s <- summary(fit, times = at, extend = TRUE)
    states <- fit$states
    for (k in seq_along(states)) {
      if (states[k] == "(s0)") next
      out[[length(out) + 1]] <- data.frame(dataset = ds, tier = tier, cause = as.integer(states[k]), time = s$time,
                                           pstate = s$pstate[, k], lower = s$lower[, k], upper = s$upper[, k])
    }
  }
}
res <- do.call(rbind, out)
write.csv(res, file.path(here, "r_aalen_johansen.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival"))), file.path(here, "R_SESSION.txt"))
