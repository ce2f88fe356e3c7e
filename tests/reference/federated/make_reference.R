# Independent reference values for the federated analyses (workbench/federated/analyses.py),
# computed by R's survival package and glm on the POOLED data.
#
# Run from the repository root:
#     .venv/bin/python tests/reference/federated/make_inputs.py   # the pooled inputs, from the sample
#     Rscript tests/reference/federated/make_reference.R
#
# Reads data_cox.csv (the sample's dropout endpoint, censor date 2026-12-31, with each row's site
# in the split by community and by community type) and data_logistic.csv (the risk model's pooled
# design built by the agreed federated preprocessing; intercept column included) and writes:
#
#   r_km.csv       summary(survfit(Surv(duration, event) ~ 1, conf.type = "log-log"), censored = TRUE)
#   r_logrank.csv  survdiff(Surv(duration, event) ~ female) and ~ site_type: chisq, df, p
#   r_cox.csv      coxph(Surv(duration, event) ~ age + female + lives_alone + strata(site), ties = "efron")
#                  for site = site_community and site = site_type: coef, se, loglik (fit$loglik[2])
#   r_glm.csv      glm(y ~ 0 + ., family = binomial, data = design): coef, se, deviance
#   R_SESSION.txt  sessionInfo()
#
# Numbers are written by write.csv with 17 significant digits. Never edit the r_*.csv by hand.

suppressPackageStartupMessages(library(survival))
options(digits = 17)
here <- "tests/reference/federated"
cox_data <- read.csv(file.path(here, "data_cox.csv"))

fit <- survfit(Surv(duration, event) ~ 1, data = cox_data, conf.type = "log-log")
s <- summary(fit, censored = TRUE)
write.csv(data.frame(time = s$time, n_risk = s$n.risk, n_event = s$n.event, survival = s$surv,
                     ci_low = s$lower, ci_high = s$upper),
          file.path(here, "r_km.csv"), row.names = FALSE)

lr <- do.call(rbind, lapply(c("female", "site_type"), function(g) {
  d <- survdiff(as.formula(paste("Surv(duration, event) ~", g)), data = cox_data)
  df <- length(d$n) - 1
  data.frame(group = g, chisq = d$chisq, df = df, p = pchisq(d$chisq, df, lower.tail = FALSE))
}))
write.csv(format(lr, digits = 17), file.path(here, "r_logrank.csv"), row.names = FALSE)

cox <- do.call(rbind, lapply(c("site_community", "site_type"), function(site) {
  f <- coxph(as.formula(paste("Surv(duration, event) ~ age + female + lives_alone + strata(", site, ")")),
             data = cox_data, ties = "efron")
  data.frame(site = site, covariate = names(coef(f)), coef = unname(coef(f)), se = unname(sqrt(diag(vcov(f)))),
             loglik = f$loglik[2], iterations = f$iter)
}))
write.csv(format(cox, digits = 17), file.path(here, "r_cox.csv"), row.names = FALSE)

design <- read.csv(file.path(here, "data_logistic.csv"))
g <- glm(y ~ 0 + ., family = binomial, data = design, control = glm.control(epsilon = 1e-14, maxit = 100))
sm <- summary(g)$coefficients
write.csv(format(data.frame(covariate = rownames(sm), coef = sm[, 1], se = sm[, 2], deviance = g$deviance),
                 digits = 17), file.path(here, "r_glm.csv"), row.names = FALSE)

writeLines(capture.output(sessionInfo()), file.path(here, "R_SESSION.txt"))
