# Independent R reference values for workbench.survival (issue 19): cluster-robust Cox standard
# errors, CoxModel.ph_test(transform=) (= R's cox.zph) and fine_gray(...) (= R's finegray +
# coxph, and cmprsk::crr).
#
# Run from the repository root (R 4.2.2, survival 3.5-3, cmprsk):
#     Rscript tests/reference/survival_robust/make_reference.R
# The script is deterministic: re-running it rewrites identical files.
#
# OUTPUT FILES (all in tests/reference/survival_robust/, written by write.csv: 15 significant
# digits, NA stays NA; never edit by hand)
#   data_<name>.csv  exactly the rows and columns handed to R (after NA removal and recoding);
#                    the script reads each one back and fits on what it read, so Python reading
#                    the same file sees the identical data.
#     data_lung.csv          survival::lung, columns time, status (recoded 0/1 = status - 1), age,
#                            sex (1 male, 2 female, as in lung), ph.ecog, w (integer case weight
#                            1..3, seeded, used only by case lung_weighted); rows with NA in any of
#                            these dropped (227 rows).
#     data_veteran.csv       survival::veteran, columns time, status, trt (0/1 = trt - 1), karno,
#                            age, prior (0/1 = prior / 10). Many tied times.
#     data_rats.csv          survival::rats, columns litter, rx, time, status, sex (0/1, male = 1;
#                            R 4.2's rats has sex "f"/"m").
#     data_heart.csv         survival::heart (start, stop] data: start, stop, event, age, year,
#                            surgery, transplant (0/1 from the factor), id.
#     data_mgus2.csv         survival::mgus2 as competing risks: id = row number, etime =
#                            ifelse(pstat == 0, futime, ptime), status = ifelse(pstat == 0,
#                            2 * death, 1) (0 censored, 1 PCM, 2 death), age, sex (0/1, male = 1).
#     data_fg_small.csv      30 hand-made (seeded) competing-risk rows: id, time (whole units 1..8),
#                            status 0/1/2, x1 (0/1), x2 (1 decimal). Ties between cause 1, cause 2
#                            and censoring at the same time (checked by the script).
#     data_clustered2000.csv 2,000 synthetic subjects (seeded) in 40 clusters of 50 with a shared
#                            gamma frailty (mean 1, variance 0.5) on the cause-1 hazard: id,
#                            cluster, time (whole days, heavy ties), status (0 censored, 1 event,
#                            2 competing death), event1 (= status == 1), x1 (0/1), x2 (2 decimals),
#                            x3 (integer 0..3).
#   r_cases.csv     one row per (output, case[, transform]): output (cox / zph / finegray / crr /
#                   fg_cif), case, data (file name), duration, entry (empty if none), event,
#                   covariates (space separated), strata, cluster, weights (empty if none),
#                   robust (TRUE/FALSE), ties, cause (Fine-Gray only), transform (zph only),
#                   r_call (the exact R text that was evaluated; `d` is the data frame read from
#                   `data`; for finegray, `fg` is the expanded finegray data).
#   r_cox.csv       per cox case and covariate: coef, se (naive: sqrt(diag(fit$naive.var)) when
#                   robust, else sqrt(diag(fit$var))), robust_se (sqrt(diag(fit$var)) when robust,
#                   else NA), hr, z, p (summary(fit)$coefficients: with robust these use the robust
#                   se), hr_lower / hr_upper (summary(fit)$conf.int, 95%, robust se when robust),
#                   loglik (fit$loglik[2]), loglik_null (fit$loglik[1]), n, nevent, n_clusters.
#   r_zph.csv       per zph case and transform (km, rank, identity): each covariate and GLOBAL:
#                   chisq, df, p = cox.zph(fit, transform = ...)$table (terms = TRUE, default).
#   r_finegray.csv  per finegray case and covariate: fg <- finegray(Surv(time, factor(status, 0:2))
#                   ~ ., data = d, etype = "<cause>"); coxph(Surv(fgstart, fgstop, fgstatus) ~ covs,
#                   data = fg, weights = fgwt, cluster = <id>, ties = <ties>): coef, se (naive),
#                   robust_se, hr, z, p (robust), hr_lower, hr_upper, loglik, n (rows of fg),
#                   n_clusters. Ties "efron" and "breslow". The script checks that the robust
#                   variance is the subject-collapsed dfbeta sandwich (clustered by subject).
#   r_crr.csv       per crr case and covariate: crr(ftime, fstatus, cov1 = model.matrix(~ covs,
#                   d)[, -1], failcode = cause, cencode = 0, gtol = 1e-12): coef, se = sqrt(diag(fit$var)),
#                   run to gtol 1e-12 (crr's default 1e-6 stops about 1e-5 short of the maximum),
#                   hr, z = coef / se, p = 2 * pnorm(-|z|) (what summary.crr prints, but not
#                   rounded), loglik (fit$loglik), loglik_null, n, converged.
#   r_fg_cif.csv    predicted cumulative incidence of the cause for 2-3 covariate profiles
#                   (columns profile + one column per covariate of the case; covariates of
#                   other cases are NA) at 6 times: method finegray_coxph =
#                   1 - summary(survfit(fgfit, newdata = profiles), times = times)$surv (the
#                   efron fit; also the breslow fit, column ties), method crr = the step function
#                   predict(crr_fit, cov1 = profiles) evaluated at the same times (value at the
#                   last failure time <= t, 0 before the first).
#   R_SESSION.txt   sessionInfo().
#
# CASES
#   lung_plain          cox efron, age + sex + ph.ecog, naive se.          zph km/rank/identity.
#   lung_robust         same, robust = TRUE without cluster (per-row dfbeta sandwich).
#   lung_strata         cox efron, age + ph.ecog + strata(sex).            zph km/rank/identity.
#   lung_weighted       lung_plain with weights = w (integer-like case weights), robust = FALSE.
#   veteran_efron       cox efron, trt + karno + age + prior.              zph km/rank/identity.
#   veteran_breslow     same with ties = "breslow".                         zph km/rank/identity.
#   rats_cluster        cox efron, rx + sex, cluster = litter (robust).     zph km/rank/identity.
#   rats_cluster_strata cox efron, rx + strata(sex), cluster = litter.     zph km/rank/identity.
#   heart_cluster       cox efron, Surv(start, stop, event) ~ age + year + surgery + transplant,
#                       cluster = id (delayed entry + subject clusters).    zph km/rank/identity.
#   clustered2000_cox   cox efron, Surv(time, event1) ~ x1 + x2 + x3, cluster = cluster (40).
#                       zph km/rank/identity.
#   mgus2_c1 / mgus2_c2 Fine-Gray of PCM (cause 1) / death (cause 2) on age + sex:
#                       finegray efron + breslow, crr, fg_cif (profiles age 60/80 x sex).
#   fg_small_c1 / fg_small_c2  the same on data_fg_small.csv with x1 + x2.
#   clustered2000_fg_c1 Fine-Gray of cause 1 on x1 + x2 + x3: finegray (cluster = id, i.e. by
#                       subject) efron + breslow, crr, fg_cif.
#   clustered2000_fg_c1_bycluster  finegray coxph efron with cluster = cluster (the 40 frailty
#                       groups) instead of the subject id: an extra, no crr counterpart.
# Case names in r_finegray / r_crr / r_fg_cif are the ones above; finegray rows carry `ties`.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

# --- where we are ---------------------------------------------------------------------------
file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(file_arg) == 1) {
  dirname(normalizePath(sub("^--file=", "", file_arg)))
} else {
  "tests/reference/survival_robust"
}
path <- function(name) file.path(here, name)

# write a data set, read it back and use what was read (so R and Python see the same numbers)
datasets <- list()
put_data <- function(name, d) {
  file <- sprintf("data_%s.csv", name)
  rownames(d) <- NULL
  write.csv(d, path(file), row.names = FALSE)
  back <- read.csv(path(file), stringsAsFactors = FALSE)
  stopifnot(identical(dim(back), dim(d)), identical(names(back), names(d)))
  datasets[[file]] <<- back
  file
}

cases <- list()
add_case <- function(output, case, data, r_call, duration = "", entry = "", event = "",
                     covariates = character(0), strata = "", cluster = "", weights = "",
                     robust = FALSE, ties = "", cause = "", transform = "") {
  cases[[length(cases) + 1]] <<- data.frame(
    output = output, case = case, data = data, duration = duration, entry = entry,
    event = event, covariates = paste(covariates, collapse = " "), strata = strata,
    cluster = cluster, weights = weights, robust = robust, ties = ties, cause = cause,
    transform = transform, r_call = r_call, stringsAsFactors = FALSE)
}

# evaluate an R call given as text with `d` (and `fg`) bound; returns the value
run <- function(text, d, fg = NULL) {
  env <- new.env(parent = globalenv())
  env$d <- d
  if (!is.null(fg)) env$fg <- fg
  eval(parse(text = text), envir = env)
}

RNGkind("Mersenne-Twister", "Inversion", "Rejection")

# --- data sets ------------------------------------------------------------------------------
lung_d <- survival::lung[, c("time", "status", "age", "sex", "ph.ecog")]
lung_d <- lung_d[complete.cases(lung_d), ]
lung_d$status <- lung_d$status - 1L
set.seed(19001)
lung_d$w <- sample(1:3, nrow(lung_d), replace = TRUE)
f_lung <- put_data("lung", lung_d)

vet <- survival::veteran
vet_d <- data.frame(time = vet$time, status = vet$status, trt = vet$trt - 1L,
                    karno = vet$karno, age = vet$age, prior = vet$prior / 10)
stopifnot(all(vet_d$trt %in% 0:1), all(vet_d$prior %in% 0:1))
f_vet <- put_data("veteran", vet_d)

rats_d <- survival::rats
stopifnot(all(c("litter", "rx", "time", "status", "sex") %in% names(rats_d)))
rats_d <- data.frame(litter = rats_d$litter, rx = rats_d$rx, time = rats_d$time,
                     status = rats_d$status, sex = as.integer(rats_d$sex == "m"))
f_rats <- put_data("rats", rats_d)

heart_d <- survival::heart
heart_d$transplant <- as.integer(as.character(heart_d$transplant))
heart_d <- heart_d[, c("start", "stop", "event", "age", "year", "surgery", "transplant", "id")]
stopifnot(!anyNA(heart_d))
f_heart <- put_data("heart", heart_d)

m2 <- survival::mgus2
mgus_d <- data.frame(id = seq_len(nrow(m2)),
                     etime = ifelse(m2$pstat == 0, m2$futime, m2$ptime),
                     status = ifelse(m2$pstat == 0, 2L * m2$death, 1L),
                     age = m2$age, sex = as.integer(m2$sex == "M"))
mgus_d <- mgus_d[complete.cases(mgus_d), ]
mgus_d$id <- seq_len(nrow(mgus_d))
f_mgus <- put_data("mgus2", mgus_d)

set.seed(19002)
small <- data.frame(id = 1:30,
                    time = sample(1:8, 30, replace = TRUE),
                    status = sample(0:2, 30, replace = TRUE, prob = c(0.3, 0.4, 0.3)),
                    x1 = rbinom(30, 1, 0.5),
                    x2 = round(rnorm(30), 1))
# ties between the causes and censoring at one time
tie_t <- with(small, intersect(intersect(time[status == 1], time[status == 2]), time[status == 0]))
stopifnot(length(tie_t) >= 1)
f_small <- put_data("fg_small", small)

set.seed(19003)
n <- 2000
cl <- rep(1:40, each = 50)
frail <- rgamma(40, shape = 2, rate = 2)[cl]          # mean 1, variance 0.5
x1 <- rbinom(n, 1, 0.5)
x2 <- round(rnorm(n), 2)
x3 <- sample(0:3, n, replace = TRUE)
t1 <- rexp(n, 0.004 * frail * exp(0.5 * x1 - 0.3 * x2 + 0.2 * x3))
t2 <- rexp(n, 0.002 * exp(0.4 * x1 + 0.1 * x3))
tc <- runif(n, 30, 365)
tt <- pmin(t1, t2, tc)
st <- ifelse(tt == t1, 1L, ifelse(tt == t2, 2L, 0L))
big <- data.frame(id = 1:n, cluster = cl, time = ceiling(tt), status = st,
                  event1 = as.integer(st == 1), x1 = x1, x2 = x2, x3 = x3)
f_big <- put_data("clustered2000", big)

# --- Cox (+ cox.zph) --------------------------------------------------------------------------
cox_rows <- list()
zph_rows <- list()
cox_case <- function(case, file, surv, covariates, strata = "", cluster = "", weights = "",
                     robust = FALSE, ties = "efron", zph = FALSE,
                     duration = "time", entry = "", event = "status") {
  d <- datasets[[file]]
  rhs <- paste(covariates, collapse = " + ")
  if (strata != "") rhs <- sprintf("%s + strata(%s)", rhs, strata)
  args <- sprintf('data = d, ties = "%s"', ties)
  if (weights != "") args <- sprintf("%s, weights = %s", args, weights)
  if (cluster != "") args <- sprintf("%s, cluster = %s", args, cluster)
  args <- sprintf("%s, robust = %s", args, robust)
  call <- sprintf("coxph(%s ~ %s, %s)", surv, rhs, args)
  fit <- run(call, d)
  is_robust <- !is.null(fit$naive.var)
  stopifnot(is_robust == robust)
  add_case("cox", case, file, call, duration = duration, entry = entry, event = event,
           covariates = covariates, strata = strata, cluster = cluster, weights = weights,
           robust = robust, ties = ties)
  sm <- summary(fit)
  co <- sm$coefficients
  ci <- sm$conf.int
  naive <- if (is_robust) fit$naive.var else fit$var
  nclus <- if (cluster != "") length(unique(d[[cluster]])) else NA_integer_
  cox_rows[[length(cox_rows) + 1]] <<- data.frame(
    case = case, covariate = rownames(co), coef = unname(fit$coefficients),
    se = sqrt(diag(naive)), robust_se = if (is_robust) sqrt(diag(fit$var)) else NA_real_,
    hr = co[, "exp(coef)"], z = co[, "z"], p = co[, "Pr(>|z|)"],
    hr_lower = ci[, "lower .95"], hr_upper = ci[, "upper .95"],
    loglik = fit$loglik[2], loglik_null = fit$loglik[1], n = fit$n, nevent = fit$nevent,
    n_clusters = nclus, stringsAsFactors = FALSE)
  if (is_robust) stopifnot(isTRUE(all.equal(co[, "robust se"], sqrt(diag(fit$var)),
                                            check.attributes = FALSE)))
  if (zph) {
    for (tr in c("km", "rank", "identity")) {
      zcall <- sprintf('cox.zph(fit, transform = "%s")', tr)
      env <- new.env(parent = globalenv())
      env$fit <- fit
      z <- eval(parse(text = zcall), envir = env)
      zt <- z$table
      add_case("zph", case, file, sprintf("fit <- %s; %s", call, zcall), duration = duration,
               entry = entry, event = event, covariates = covariates, strata = strata,
               cluster = cluster, weights = weights, robust = robust, ties = ties,
               transform = tr)
      zph_rows[[length(zph_rows) + 1]] <<- data.frame(
        case = case, transform = tr, term = rownames(zt), chisq = zt[, "chisq"],
        df = zt[, "df"], p = zt[, "p"], stringsAsFactors = FALSE)
    }
  }
  invisible(fit)
}

cox_case("lung_plain", f_lung, "Surv(time, status)", c("age", "sex", "ph.ecog"), zph = TRUE)
cox_case("lung_robust", f_lung, "Surv(time, status)", c("age", "sex", "ph.ecog"), robust = TRUE)
cox_case("lung_strata", f_lung, "Surv(time, status)", c("age", "ph.ecog"), strata = "sex",
         zph = TRUE)
cox_case("lung_weighted", f_lung, "Surv(time, status)", c("age", "sex", "ph.ecog"),
         weights = "w")
cox_case("veteran_efron", f_vet, "Surv(time, status)", c("trt", "karno", "age", "prior"),
         zph = TRUE)
cox_case("veteran_breslow", f_vet, "Surv(time, status)", c("trt", "karno", "age", "prior"),
         ties = "breslow", zph = TRUE)
cox_case("rats_cluster", f_rats, "Surv(time, status)", c("rx", "sex"), cluster = "litter",
         robust = TRUE, zph = TRUE)
cox_case("rats_cluster_strata", f_rats, "Surv(time, status)", "rx", strata = "sex",
         cluster = "litter", robust = TRUE, zph = TRUE)
cox_case("heart_cluster", f_heart, "Surv(start, stop, event)",
         c("age", "year", "surgery", "transplant"), cluster = "id", robust = TRUE, zph = TRUE,
         duration = "stop", entry = "start", event = "event")
cox_case("clustered2000_cox", f_big, "Surv(time, event1)", c("x1", "x2", "x3"),
         cluster = "cluster", robust = TRUE, zph = TRUE, event = "event1")

# --- Fine-Gray: finegray + coxph, crr, predicted CIF ------------------------------------------
fg_rows <- list()
crr_rows <- list()
cif_rows <- list()

step_at <- function(tm, val, times) {
  idx <- findInterval(times, tm)
  out <- numeric(length(times))
  out[idx > 0] <- val[idx[idx > 0]]
  out
}

fg_case <- function(case, file, duration, covariates, cause, profiles, times,
                    cluster = "id", do_crr = TRUE, ties_list = c("efron", "breslow")) {
  d <- datasets[[file]]
  rhs <- paste(covariates, collapse = " + ")
  fgcall <- sprintf('finegray(Surv(%s, factor(status, 0:2)) ~ ., data = d, etype = "%d")',
                    duration, cause)
  fg <- run(fgcall, d)
  # subject id must be carried through to the expanded data
  stopifnot("id" %in% names(fg), setequal(unique(fg$id), d$id))
  for (ties in ties_list) {
    call <- sprintf("coxph(Surv(fgstart, fgstop, fgstatus) ~ %s, data = fg, weights = fgwt, cluster = %s, ties = \"%s\")",
                    rhs, cluster, ties)
    fit <- run(call, d, fg)
    stopifnot(!is.null(fit$naive.var))
    # robust variance = sandwich of the dfbeta residuals summed within `cluster`
    rr <- residuals(fit, type = "dfbeta", collapse = fg[[cluster]], weighted = TRUE)
    stopifnot(nrow(rr) == length(unique(d[[cluster]])),
              isTRUE(all.equal(unname(crossprod(rr)), unname(fit$var), tolerance = 1e-8)))
    add_case("finegray", case, file, sprintf("fg <- %s; fgfit <- %s", fgcall, call),
             duration = duration, event = "status", covariates = covariates, cluster = cluster,
             weights = "fgwt", robust = TRUE, ties = ties, cause = as.character(cause))
    sm <- summary(fit)
    co <- sm$coefficients
    ci <- sm$conf.int
    fg_rows[[length(fg_rows) + 1]] <<- data.frame(
      case = case, ties = ties, cause = cause, covariate = rownames(co),
      coef = unname(fit$coefficients), se = sqrt(diag(fit$naive.var)),
      robust_se = sqrt(diag(fit$var)), hr = co[, "exp(coef)"], z = co[, "z"],
      p = co[, "Pr(>|z|)"], hr_lower = ci[, "lower .95"], hr_upper = ci[, "upper .95"],
      loglik = fit$loglik[2], n = fit$n, n_subjects = nrow(d),
      n_clusters = length(unique(d[[cluster]])), stringsAsFactors = FALSE)
    if (!is.null(profiles)) {
      scall <- "1 - summary(survfit(fgfit, newdata = profiles), times = times)$surv"
      env <- new.env(parent = globalenv())
      env$fgfit <- fit
      env$profiles <- profiles
      env$times <- times
      cif <- eval(parse(text = scall), envir = env)
      cif <- matrix(cif, nrow = length(times))
      add_case("fg_cif", case, file, sprintf("fg <- %s; fgfit <- %s; %s", fgcall, call, scall),
               duration = duration, event = "status", covariates = covariates,
               cluster = cluster, weights = "fgwt", robust = TRUE, ties = ties,
               cause = as.character(cause))
      for (j in seq_len(nrow(profiles))) {
        cif_rows[[length(cif_rows) + 1]] <<- data.frame(
          case = case, method = "finegray_coxph", ties = ties, profile = j,
          profiles[rep(j, length(times)), , drop = FALSE], time = times, cif = cif[, j],
          stringsAsFactors = FALSE, row.names = NULL)
      }
    }
  }
  if (do_crr) {
    ccall <- sprintf("crr(d$%s, d$status, cov1 = model.matrix(~ %s, d)[, -1, drop = FALSE], failcode = %d, cencode = 0, gtol = 1e-12)",
                     duration, rhs, cause)
    cfit <- run(ccall, d)
    add_case("crr", case, file, ccall, duration = duration, event = "status",
             covariates = covariates, cause = as.character(cause))
    # summary.crr rounds its p-values (signif 2), so z and p are computed here from the fit
    # exactly as summary.crr does: z = coef / sqrt(diag(var)), p = 2 * pnorm(-abs(z))
    co <- summary(cfit)$coef
    se <- sqrt(diag(cfit$var))
    z <- unname(cfit$coef) / se
    stopifnot(isTRUE(all.equal(z, unname(co[, "z"]))))
    crr_rows[[length(crr_rows) + 1]] <<- data.frame(
      case = case, cause = cause, covariate = rownames(co), coef = unname(cfit$coef),
      se = se, hr = exp(unname(cfit$coef)), z = z, p = 2 * pnorm(-abs(z)),
      loglik = cfit$loglik, loglik_null = cfit$loglik.null, n = cfit$n,
      converged = cfit$converged, stringsAsFactors = FALSE)
    if (!is.null(profiles)) {
      pcall <- "predict(crr_fit, cov1 = as.matrix(profiles))"
      env <- new.env(parent = globalenv())
      env$crr_fit <- cfit
      env$profiles <- profiles
      pr <- eval(parse(text = pcall), envir = env)
      add_case("fg_cif", case, file,
               sprintf("crr_fit <- %s; %s  # step function read at times", ccall, pcall),
               duration = duration, event = "status", covariates = covariates,
               cause = as.character(cause))
      for (j in seq_len(nrow(profiles))) {
        cif_rows[[length(cif_rows) + 1]] <<- data.frame(
          case = case, method = "crr", ties = "", profile = j,
          profiles[rep(j, length(times)), , drop = FALSE], time = times,
          cif = step_at(pr[, 1], pr[, j + 1], times), stringsAsFactors = FALSE,
          row.names = NULL)
      }
    }
  }
}

# times: 6 whole-number times inside the range of cause events (quantiles of the cause's event
# times, computed here, not typed)
pick_times <- function(d, duration, cause) {
  tt <- d[[duration]][d$status == cause]
  unique(as.numeric(round(quantile(tt, c(0.05, 0.2, 0.4, 0.6, 0.8, 0.95), type = 1))))
}

mg_prof <- data.frame(age = c(60, 80, 80), sex = c(0, 0, 1))
for (k in 1:2) {
  fg_case(sprintf("mgus2_c%d", k), f_mgus, "etime", c("age", "sex"), k, mg_prof,
          pick_times(datasets[[f_mgus]], "etime", k))
}
sm_prof <- data.frame(x1 = c(0, 1), x2 = c(0, 1))
for (k in 1:2) {
  fg_case(sprintf("fg_small_c%d", k), f_small, "time", c("x1", "x2"), k, sm_prof,
          pick_times(datasets[[f_small]], "time", k))
}
big_prof <- data.frame(x1 = c(0, 1, 1), x2 = c(0, 0, 1), x3 = c(0, 1, 3))
fg_case("clustered2000_fg_c1", f_big, "time", c("x1", "x2", "x3"), 1, big_prof,
        pick_times(datasets[[f_big]], "time", 1))
fg_case("clustered2000_fg_c1_bycluster", f_big, "time", c("x1", "x2", "x3"), 1, NULL, NULL,
        cluster = "cluster", do_crr = FALSE, ties_list = "efron")

# --- write ------------------------------------------------------------------------------------
out <- function(rows, file) {
  # r_fg_cif.csv: the profile covariates differ between cases; missing ones are NA
  cols <- unique(unlist(lapply(rows, names)))
  rows <- lapply(rows, function(r) {
    for (cn in setdiff(cols, names(r))) r[[cn]] <- NA
    r[, cols]
  })
  x <- do.call(rbind, rows)
  rownames(x) <- NULL
  write.csv(x, path(file), row.names = FALSE)
}
out(cases, "r_cases.csv")
out(cox_rows, "r_cox.csv")
out(zph_rows, "r_zph.csv")
out(fg_rows, "r_finegray.csv")
out(crr_rows, "r_crr.csv")
out(cif_rows, "r_fg_cif.csv")
writeLines(c("# sessionInfo() of the R that wrote the r_*.csv files (make_reference.R)",
             capture.output(sessionInfo())), path("R_SESSION.txt"))
