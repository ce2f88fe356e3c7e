# The R side of benchmarks/bench_survival.py: best of 3 wall-clock seconds for the same work.
# Rscript benchmarks/bench_survival.R cohort.csv
suppressMessages(library(survival))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
best <- function(f) min(sapply(1:3, function(i) system.time(f())[["elapsed"]]))
km <- best(function() { survfit(Surv(time, event) ~ arm, d, conf.type = "log-log"); survdiff(Surv(time, event) ~ arm, d) })
cx <- best(function() coxph(Surv(time, event) ~ arm + x2 + x3, d, ties = "efron"))
cat(sprintf("KM + log-rank (2 arms)\t%.4f\nCox, 3 covariates (Efron)\t%.4f\n", km, cx))
