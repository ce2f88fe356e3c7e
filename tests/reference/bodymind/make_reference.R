# Independent reference values for workbench/regression.py (the models of workbench/bodymind.py),
# computed by R: stats::glm, lme4::lmer, nlme::lme and MASS::glm.nb.
#
# Run from the repository root, after make_bodymind_data.py has written the seeded inputs:
#     .venv/bin/python tests/reference/bodymind/make_bodymind_data.py
#     Rscript tests/reference/bodymind/make_reference.R
#
# Inputs (committed; blanks are NA): control.csv, trial_bp.csv, counts.csv (see make_bodymind_data.py).
# Outputs (write.csv, 15 significant digits; never edit them by hand, never replace them with
# Python output):
#   r_logistic.csv   per case and term: estimate (log odds), se, Wald z p-value and interval
#                    (confint.default), n, n_excluded (rows na.omit dropped), loglik, r_call
#   r_mixed.csv      per case and fixed effect: estimate, se (lmer, REML), plus the same from
#                    nlme::lme (REML) as estimate_nlme, se_nlme, and the REML log-likelihood
#   r_mixed_variance.csv  per case: component (subject, residual), variance (lmer VarCorr), and
#                    variance_nlme (nlme VarCorr)
#   r_counts.csv     per case and term: estimate, se, Wald p and interval; theta and theta_se
#                    (glm.nb: fit$theta; theta_se_mass = fit$SE.theta, and theta_se = the same
#                    information formula at the final theta and fitted means; NA for Poisson),
#                    loglik, aic, dispersion
#                    (Pearson chi-square / residual df), n, n_excluded, r_call
#   R_SESSION.txt    sessionInfo()
#
# Term names follow workbench.regression: "intercept", a numeric column by its name, a level of
# a factor as "column[level]", an interaction "a:b". R's names (e.g. "armintervention:month12")
# are rewritten to that form by `rename` below from the factor levels, nothing else.

suppressPackageStartupMessages({ library(lme4); library(nlme); library(MASS) })
file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(file_arg) == 1) dirname(normalizePath(sub("^--file=", "", file_arg))) else "tests/reference/bodymind"
path <- function(name) file.path(here, name)
write_num <- function(df, name) {
  for (c in names(df)) if (is.numeric(df[[c]])) df[[c]] <- signif(df[[c]], 15)
  write.csv(df, path(name), row.names = FALSE, na = "")
}

# "armintervention:month12" -> "arm[intervention]:month[12]" for the factors given (name -> levels)
rename <- function(terms, factors) {
  vapply(terms, function(t) {
    if (t == "(Intercept)") return("intercept")
    parts <- strsplit(t, ":", fixed = TRUE)[[1]]
    parts <- vapply(parts, function(p) {
      for (f in names(factors)) for (l in factors[[f]]) if (p == paste0(f, l)) return(paste0(f, "[", l, "]"))
      p
    }, character(1))
    paste(parts, collapse = ":")
  }, character(1), USE.NAMES = FALSE)
}
wald <- function(est, se) {
  z <- qnorm(0.975)
  data.frame(estimate = est, se = se, ci_low = est - z * se, ci_high = est + z * se,
             p_value = 2 * pnorm(-abs(est / se)))
}

# Every glm / glm.nb is run to epsilon = 1e-12 (R's default 1e-8 leaves the standard errors,
# computed from the weights of the last iteration but one, off in the 5th significant figure).

# --- logistic: glm(binomial) ---------------------------------------------------------------------
control <- read.csv(path("control.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"))
control$psych_status <- relevel(factor(control$psych_status), ref = "normal")
control$sex <- factor(control$sex)
fac <- list(psych_status = levels(control$psych_status), sex = levels(control$sex))
logistic_cases <- list(
  unadjusted = controlled ~ psych_status,
  adjusted = controlled ~ psych_status + age + sex)
rows <- list()
for (case in names(logistic_cases)) {
  f <- logistic_cases[[case]]
  fit <- glm(f, family = binomial, data = control, control = glm.control(epsilon = 1e-12, maxit = 100))
  s <- summary(fit)$coefficients
  ci <- confint.default(fit)
  stopifnot(all.equal(ci[, 1], s[, 1] - qnorm(0.975) * s[, 2], check.attributes = FALSE))
  rows[[case]] <- cbind(data.frame(case = case, term = rename(rownames(s), fac)), wald(s[, 1], s[, 2]),
                        z_value = s[, 3], p_value_r = s[, 4], n = nobs(fit),
                        n_excluded = length(fit$na.action), loglik = as.numeric(logLik(fit)),
                        r_call = paste0("glm(", deparse(f), ", family = binomial)"))
}
write_num(do.call(rbind, rows), "r_logistic.csv")

# --- linear mixed model: lmer (REML) and nlme::lme (REML) ------------------------------------------
bp <- read.csv(path("trial_bp.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"))
bp$arm <- relevel(factor(bp$arm), ref = "usual_care")
bp$month_f <- factor(bp$month)
n_blank <- sum(is.na(bp$sbp))                 # rows lmer and lme would drop (na.omit)
bp <- bp[!is.na(bp$sbp), ]
fac <- list(arm = levels(bp$arm), month = levels(bp$month_f))
mixed_cases <- list(
  factor = list(lmer = sbp ~ arm * month_f + (1 | resident_id), fixed = sbp ~ arm * month_f),
  linear = list(lmer = sbp ~ arm * month + (1 | resident_id), fixed = sbp ~ arm * month),
  linear_age = list(lmer = sbp ~ arm * month + age + (1 | resident_id), fixed = sbp ~ arm * month + age))
rows <- list(); vrows <- list()
for (case in names(mixed_cases)) {
  k <- mixed_cases[[case]]
  fit <- lmer(k$lmer, data = bp, REML = TRUE, control = lmerControl(optimizer = "bobyqa",
              optCtrl = list(maxfun = 1e5)))
  s <- summary(fit)$coefficients
  lfit <- lme(k$fixed, random = ~ 1 | resident_id, data = bp, method = "REML",
              control = lmeControl(msTol = 1e-12, tolerance = 1e-12, niterEM = 100, msMaxIter = 500))
  ls <- summary(lfit)$tTable
  stopifnot(all(rownames(ls) == rownames(s)))
  terms <- rename(sub("month_f", "month", rownames(s)), fac)
  rows[[case]] <- cbind(data.frame(case = case, term = terms), wald(s[, 1], s[, 2]),
                        estimate_nlme = ls[, "Value"], se_nlme = ls[, "Std.Error"],
                        n = nobs(fit), n_subjects = ngrps(fit)[["resident_id"]], n_excluded = n_blank,
                        reml_loglik = as.numeric(logLik(fit)), reml_loglik_nlme = as.numeric(logLik(lfit)),
                        r_call = paste0("lmer(", deparse(k$lmer), ", REML = TRUE)"))
  vc <- as.data.frame(VarCorr(fit))
  nv <- c(as.numeric(getVarCov(lfit)), lfit$sigma^2)   # full precision (VarCorr prints 7 digits)
  vrows[[case]] <- data.frame(case = case, component = c("subject", "residual"),
                              variance = c(vc$vcov[vc$grp == "resident_id"], vc$vcov[vc$grp == "Residual"]),
                              variance_nlme = nv)
}
write_num(do.call(rbind, rows), "r_mixed.csv")
write_num(do.call(rbind, vrows), "r_mixed_variance.csv")

# --- counts: glm(poisson) and MASS::glm.nb with log(follow-up) offset --------------------------------
counts <- read.csv(path("counts.csv"), stringsAsFactors = FALSE, na.strings = c("", "NA"))
counts$arm <- relevel(factor(counts$arm), ref = "usual_care")
fac <- list(arm = levels(counts$arm))
rows <- list()
for (outcome in c("er_visits", "hospital_days")) {
  for (adjusted in c(FALSE, TRUE)) {
    rhs <- if (adjusted) "arm + age + offset(log(followup_days))" else "arm + offset(log(followup_days))"
    f <- as.formula(paste(outcome, "~", rhs))
    case <- paste0(outcome, if (adjusted) "_adjusted" else "")
    for (family in c("poisson", "negative_binomial")) {
      if (family == "poisson") {
        fit <- glm(f, family = poisson, data = counts, control = glm.control(epsilon = 1e-12, maxit = 100))
        theta <- NA_real_; theta_se <- NA_real_; theta_se_final <- NA_real_
        call <- paste0("glm(", deparse(f), ", family = poisson)")
      } else {
        fit <- glm.nb(f, data = counts, control = glm.control(epsilon = 1e-12, maxit = 100))
        theta <- fit$theta; theta_se <- fit$SE.theta
        # theta.ml's SE is sqrt(1 / information) at its last Newton iterate but one; the same
        # information (MASS::theta.ml's formula) at the final theta and fitted means:
        y <- fit$y; mu <- fitted(fit)
        info <- sum(-trigamma(theta + y) + trigamma(theta) - 1 / theta + 2 / (mu + theta) - (y + theta) / (mu + theta)^2)
        theta_se_final <- sqrt(1 / info)
        call <- paste0("MASS::glm.nb(", deparse(f), ")")
      }
      s <- summary(fit)$coefficients
      rows[[paste(case, family)]] <- cbind(
        data.frame(case = case, outcome = outcome, family = family, term = rename(rownames(s), fac)),
        wald(s[, 1], s[, 2]), p_value_r = s[, 4], theta = theta, theta_se_mass = theta_se,
        theta_se = theta_se_final,
        loglik = as.numeric(logLik(fit)), aic = AIC(fit),
        dispersion = sum(residuals(fit, type = "pearson")^2) / fit$df.residual,
        n = nobs(fit), n_excluded = length(fit$na.action), r_call = call)
    }
  }
}
write_num(do.call(rbind, rows), "r_counts.csv")

writeLines(capture.output(sessionInfo()), path("R_SESSION.txt"))
