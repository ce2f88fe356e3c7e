# Reference statistics of predicted risks, by R: rms::val.prob(p, y, pl = FALSE) (rms 6.5), the
# C statistic with DeLong's (1988) standard error computed by hand from placement values (pROC is
# not installed; pROC's ci.auc(method = "delong") is the same formula: auc +- qnorm(0.975) * se,
# clipped to [0, 1]), calibration-in-the-large (glm with logit(p) as offset) and the calibration
# slope (glm y ~ logit(p)) with Wald intervals, the lowess calibration curve as val.prob draws it,
# and the net benefit of the decision curve from its formula (Vickers & Elkin 2006; dcurves is not
# installed): NB = TP/n - FP/n * pt/(1 - pt), treat when p >= pt.
# Input written by make_risk_data.py. Run from the repository root:
#   Rscript tests/reference/risk_calibration/make_reference.R
suppressPackageStartupMessages(library(rms))
here <- "tests/reference/risk_calibration"
d <- read.csv(file.path(here, "data_risk_predictions.csv"))

delong <- function(p, y) {
  pos <- p[y == 1]; neg <- p[y == 0]
  psi <- function(a, b) (a > b) + 0.5 * (a == b)
  v10 <- sapply(pos, function(x) mean(psi(x, neg)))
  v01 <- sapply(neg, function(x) mean(psi(pos, x)))
  auc <- mean(v10)
  se <- sqrt(var(v10) / length(pos) + var(v01) / length(neg))
  z <- qnorm(0.975)
  c(n = length(y), events = sum(y), auc = auc, se = se, lower = max(0, auc - z * se), upper = min(1, auc + z * se))
}

vp <- list(); auc <- list(); cal <- list(); nb <- list(); curve <- list()
for (ds in unique(d$dataset)) {
  x <- d[d$dataset == ds, ]
  p <- x$p; y <- x$y; lg <- qlogis(p)
  v <- val.prob(p, y, pl = FALSE)
  vp[[ds]] <- data.frame(dataset = ds, statistic = names(v), value = unname(v))
  auc[[ds]] <- data.frame(dataset = ds, t(delong(p, y)))
  f0 <- glm(y ~ 1, offset = lg, family = binomial, control = glm.control(epsilon = 1e-12, maxit = 100))
  f1 <- glm(y ~ lg, family = binomial, control = glm.control(epsilon = 1e-12, maxit = 100))
  z <- qnorm(0.975)
  se0 <- sqrt(vcov(f0)[1, 1]); se1 <- sqrt(vcov(f1)[2, 2])
  cal[[ds]] <- data.frame(dataset = ds, citl = coef(f0)[[1]], citl_lower = coef(f0)[[1]] - z * se0,
                          citl_upper = coef(f0)[[1]] + z * se0, slope = coef(f1)[[2]],
                          slope_lower = coef(f1)[[2]] - z * se1, slope_upper = coef(f1)[[2]] + z * se1,
                          observed = mean(y), mean_predicted = mean(p))
  sm <- lowess(p, y, iter = 0)
  ux <- sort(unique(p))
  curve[[ds]] <- data.frame(dataset = ds, predicted = ux, observed = approx(sm, xout = ux, ties = mean)$y)
  n <- length(y)
  for (pt in c(0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)) {
    treat <- p >= pt
    tp <- sum(treat & y == 1); fp <- sum(treat & y == 0)
    nb[[length(nb) + 1]] <- data.frame(dataset = ds, threshold = pt, strategy = c("model", "treat_all", "treat_none"),
                                       tp = c(tp, sum(y), 0), fp = c(fp, n - sum(y), 0),
                                       net_benefit = c(tp / n - fp / n * pt / (1 - pt),
                                                       sum(y) / n - (n - sum(y)) / n * pt / (1 - pt), 0))
  }
}
w <- function(x, name) write.csv(do.call(rbind, x), file.path(here, name), row.names = FALSE)
w(vp, "r_val_prob.csv"); w(auc, "r_auc_delong.csv"); w(cal, "r_calibration.csv"); w(nb, "r_net_benefit.csv")
w(curve, "r_calibration_curve.csv")
writeLines(c(R.version.string, paste("rms", packageVersion("rms"))), file.path(here, "R_SESSION.txt"))
