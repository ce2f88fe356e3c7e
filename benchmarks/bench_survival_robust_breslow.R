# The R side of benchmarks/bench_survival_robust_breslow.py: R's cluster-robust coxph with Breslow ties
# (which R finishes at 1,000,000 rows, where its Efron robust variance is stopped at 300 s) and cox.zph
# with the rank transform, on the same cohort.  Rscript benchmarks/bench_survival_robust_breslow.R cohort.csv
suppressMessages(library(survival))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
t <- system.time(f <- coxph(Surv(time, event) ~ x1 + x2 + x3, d, cluster = community, ties = "breslow"))[["elapsed"]]
cat(sprintf("seconds\t%.3f\n", t))
s <- summary(f)$coefficients
for (k in rownames(s)) cat(sprintf("coef\t%s\t%.17g\t%.17g\t%.17g\n", k, s[k, "coef"], s[k, "se(coef)"], s[k, "robust se"]))
t2 <- system.time(z <- cox.zph(f, transform = "rank"))[["elapsed"]]
cat(sprintf("zph_rank_seconds\t%.3f\n", t2))
for (k in rownames(z$table)) cat(sprintf("zph\t%s\t%.17g\n", k, z$table[k, "chisq"]))
