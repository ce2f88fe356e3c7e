# Reference numbers for tests/test_quality_alerts.py (issue 20): alerts that respect uncertainty,
# the interval of a mean wait, funnel-plot limits and run-chart limits.
# Run from the repository root:  Rscript tests/reference/quality_alerts/make_reference.R
# Writes the CSV files beside this script. R 4.2.2; packages: stats (and boot, printed only).
out <- "tests/reference/quality_alerts"

# 1. Wilson interval (prop.test without continuity correction) and the exact interval
#    (binom.test) of x events in n; the score test of p = level that the Wilson interval inverts.
cases <- data.frame(x = c(1, 30, 3, 4, 9, 13), n = c(6, 100, 20, 20, 20, 60),
                    level = c(0.15, 0.15, 0.15, 0.15, 0.15, 0.15))
rows <- lapply(seq_len(nrow(cases)), function(i) {
  x <- cases$x[i]; n <- cases$n[i]; level <- cases$level[i]
  w <- prop.test(x, n, p = level, correct = FALSE)
  e <- binom.test(x, n, p = level)
  data.frame(x = x, n = n, level = level, conf_level = 0.95,
             wilson_lower = w$conf.int[1], wilson_upper = w$conf.int[2], score_p_value = w$p.value,
             exact_lower = e$conf.int[1], exact_upper = e$conf.int[2],
             call = sprintf("prop.test(%d, %d, p = %g, correct = FALSE); binom.test(%d, %d)", x, n, level, x, n))
})
write.csv(do.call(rbind, rows), file.path(out, "r_wilson.csv"), row.names = FALSE)

# 2. The mean of waits (days) with the log-scale (delta-method) interval
#    mean * exp(-+ qt(0.975, n - 1) * sd / (mean * sqrt(n))), and the t interval it replaces.
waits <- list("17,14,3,0,25", "0,2,14", "1,1,2,3,5,8,13,21,34")
rows <- lapply(waits, function(w) {
  x <- as.numeric(strsplit(w, ",")[[1]]); n <- length(x); m <- mean(x)
  f <- exp(qt(0.975, n - 1) * sd(x) / (m * sqrt(n)))
  tt <- t.test(x)$conf.int
  data.frame(waits = w, n = n, mean = m, lower = m / f, upper = m * f, t_lower = tt[1], t_upper = tt[2],
             call = "m * exp(c(-1, 1) * qt(0.975, n - 1) * sd(x) / (m * sqrt(n)))")
})
write.csv(do.call(rbind, rows), file.path(out, "r_mean_wait.csv"), row.names = FALSE)
# for the reader only (not tested: a bootstrap is random): BCa interval of the first case
if (requireNamespace("boot", quietly = TRUE)) {
  set.seed(20)
  b <- boot::boot(c(17, 14, 3, 0, 25), function(d, i) mean(d[i]), R = 9999)
  print(boot::boot.ci(b, type = c("perc", "bca")))
}

# 3. Funnel-plot limits: exact binomial limits with Spiegelhalter's interpolation
#    (Spiegelhalter 2005, Stat Med 24:1185, appendix A.1.1):
#    r = qbinom(q, n, p0); a = (pbinom(r, n, p0) - q) / (pbinom(r, n, p0) - pbinom(r - 1, n, p0)); limit = (r - a) / n
limit <- function(q, n, p0) {
  r <- qbinom(q, n, p0)
  a <- (pbinom(r, n, p0) - q) / (pbinom(r, n, p0) - pbinom(r - 1, n, p0))
  (r - a) / n
}
grid <- expand.grid(n = c(5, 6, 20, 37, 60, 100, 250, 1000), p0 = c(0.03, 0.2167, 0.6),
                    q = c(0.001, 0.025, 0.975, 0.999))
grid$limit <- mapply(limit, grid$q, grid$n, grid$p0)
grid$call <- "r <- qbinom(q, n, p0); (r - (pbinom(r, n, p0) - q) / dbinom(r, n, p0)) / n"
write.csv(grid, file.path(out, "r_funnel.csv"), row.names = FALSE)

# 4. Run chart: limits for the number of runs from its exact distribution given n1 points above
#    and n2 below the median (Swed & Eisenhart 1943, Ann Math Stat 14:66), 2.5 % in each tail:
#    too few when runs < lower, too many when runs > upper.
runs_pmf <- function(n1, n2) {
  r <- 2:(n1 + n2); k <- r %/% 2
  p <- ifelse(r %% 2 == 0, 2 * choose(n1 - 1, k - 1) * choose(n2 - 1, k - 1),
              choose(n1 - 1, k) * choose(n2 - 1, k - 1) + choose(n1 - 1, k - 1) * choose(n2 - 1, k))
  data.frame(r = r, p = p / choose(n1 + n2, n1))
}
lims <- expand.grid(n1 = c(2, 5, 6, 10, 12), n2 = c(3, 5, 10, 14))
lims <- rbind(lims, data.frame(n1 = c(15, 30), n2 = c(15, 30)))
lims$lower <- NA; lims$upper <- NA
for (i in seq_len(nrow(lims))) {
  d <- runs_pmf(lims$n1[i], lims$n2[i])
  below <- cumsum(d$p) - d$p            # P(R < r)
  above <- rev(cumsum(rev(d$p))) - d$p  # P(R > r)
  lims$lower[i] <- min(d$r[cumsum(d$p) > 0.025])   # smallest r with P(R <= r) > 0.025
  lims$upper[i] <- max(d$r[rev(cumsum(rev(d$p))) > 0.025])
}
lims$call <- "exact runs distribution with choose(); lower = min r with P(R <= r) > 0.025, upper = max r with P(R >= r) > 0.025"
write.csv(lims, file.path(out, "r_runs.csv"), row.names = FALSE)
