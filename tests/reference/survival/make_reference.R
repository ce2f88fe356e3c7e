# Independent reference values for workbench/survival.py, computed by R's `survival` package.
#
# Run from the repository root:
#     Rscript tests/reference/survival/make_reference.R
#
# Reads the hand-designed datasets tests/reference/survival/data_*.csv, generates one realistic
# cohort (data_cohort300.csv, fixed seed, written by this script), and writes R's results beside
# them as CSV (jsonlite is not installed in the reference R, so no JSON):
#
#   r_cases.csv            one row per R call: output, case, data, arguments, the call itself
#   r_km.csv               survfit(...); summary(fit, censored = TRUE)     one row per time per group
#   r_km_summary.csv       summary(fit)$table and quantile(fit, 0.5)       one row per group
#   r_logrank.csv          survdiff(Surv(time, event) ~ group)
#   r_logrank_pairwise.csv survdiff on each pair of groups; p.adjust holm / bonferroni
#   r_cox.csv              summary(coxph(..., ties = "efron"))
#   r_cox_zph.csv          cox.zph(fit)$table (default transform "km", terms = TRUE)
#   r_cif.csv              survfit(Surv(time, factor(status, 0:2)) ~ group): Aalen-Johansen
#   R_SESSION.txt          sessionInfo()
#
# r_cases.csv holds, per case, the R call that produced it (`r_call`) and the arguments the
# Python side needs (dataset, duration_var, event_var, group_var, entry_var, covariates,
# strata_var, conf_type, conf_level); the r_*.csv result tables are keyed by `case` (and
# conf_type / conf_level for Kaplan-Meier). Numbers are written by write.csv (15 significant
# digits); NA stays NA.
#
# Never edit the r_*.csv files by hand, and never replace them with lifelines output.

suppressPackageStartupMessages(library(survival))

# --- where we are ---------------------------------------------------------------------------
file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(file_arg) == 1) {
  dirname(normalizePath(sub("^--file=", "", file_arg)))
} else {
  "tests/reference/survival"
}
path <- function(name) file.path(here, name)
read_data <- function(name) {
  read.csv(path(name), stringsAsFactors = FALSE, colClasses = c(group = "character"))
}

# --- the realistic cohort (generated, seeded) -------------------------------------------------
# 300 people followed up to 52 weeks after enrolment. tier: stepped-care tier at enrolment;
# female (binary), age (years, one decimal), phq9 (0-27); site (stratum). Time is in whole
# weeks, so ties are heavy. status: 0 censored, 1 crisis (the outcome), 2 death (competing);
# event = status == 1 (cause-specific). About a quarter entered observation late (entry > 0,
# left truncation), always at a whole week before their own exit, often at someone's event time.
make_cohort <- function() {
  RNGkind("Mersenne-Twister", "Inversion", "Rejection")
  set.seed(20240611)
  n <- 300
  tier <- sample(c("tier1", "tier2", "tier3"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
  female <- rbinom(n, 1, 0.55)
  age <- round(rnorm(n, 62, 10), 1)
  phq9 <- pmin(27, pmax(0, round(rnorm(n, c(tier1 = 6, tier2 = 12, tier3 = 18)[tier], 4))))
  site <- sample(c("north", "south"), n, replace = TRUE)
  lp1 <- -5.9 + 0.4 * (tier == "tier2") + 0.8 * (tier == "tier3") + 0.3 * female +
    0.02 * (age - 62) + 0.03 * phq9
  t1 <- (-log(runif(n)) / exp(lp1))^(1 / 1.2)
  t2 <- -log(runif(n)) / exp(-6.3 + 0.06 * (age - 62))
  cens <- ifelse(runif(n) < 0.3, runif(n, 4, 52), 52)
  y <- pmin(t1, t2, cens)
  status <- ifelse(y == t1, 1L, ifelse(y == t2, 2L, 0L))
  time <- pmax(1, ceiling(y))
  late <- runif(n) < 0.25 & time >= 2
  entry <- integer(n)
  for (i in which(late)) entry[i] <- sample.int(min(time[i] - 1, 12), 1)
  data.frame(id = seq_len(n), tier = tier, female = female, age = age, phq9 = unname(phq9),
             site = site, entry = entry, time = time, event = as.integer(status == 1L),
             status = status, stringsAsFactors = FALSE)
}
cohort <- make_cohort()
write.csv(cohort, path("data_cohort300.csv"), row.names = FALSE)
# Re-read so that R computes on exactly what Python will read.
cohort <- read.csv(path("data_cohort300.csv"), stringsAsFactors = FALSE)

datasets <- list(
  data_ties.csv = read_data("data_ties.csv"),
  data_three_groups.csv = read_data("data_three_groups.csv"),
  data_flat_median.csv = read_data("data_flat_median.csv"),
  data_delayed_entry.csv = read_data("data_delayed_entry.csv"),
  data_cox_ties.csv = read.csv(path("data_cox_ties.csv"), stringsAsFactors = FALSE),
  data_competing.csv = read_data("data_competing.csv"),
  data_empty_groups.csv = read_data("data_empty_groups.csv"),
  data_cohort300.csv = cohort
)

# --- helpers --------------------------------------------------------------------------------
strata_labels <- function(fit, n_rows) {
  # "group=A" -> "A"; NA when the fit has no strata.
  if (is.null(fit$strata)) return(rep(NA_character_, n_rows))
  sub("^[^=]*=", "", rep(names(fit$strata), fit$strata))
}
surv_lhs <- function(entry_var) {
  if (is.na(entry_var)) "Surv(time, event)" else sprintf("Surv(%s, time, event)", entry_var)
}

# One row per R call: what was fitted, on which data, with which arguments (r_cases.csv).
# The result tables carry only the keys (case, and conf_type / conf_level where they vary).
cases <- list()
add_case <- function(output, case, dataset, r_call, event_var = "event", group_var = NA,
                     entry_var = NA, covariates = NA, strata_var = NA, conf_type = NA,
                     conf_level = NA) {
  cases[[length(cases) + 1]] <<- data.frame(
    output = output, case = case, conf_type = conf_type, conf_level = conf_level,
    dataset = dataset, duration_var = "time", event_var = event_var, group_var = group_var,
    entry_var = entry_var, covariates = covariates, strata_var = strata_var, r_call = r_call,
    stringsAsFactors = FALSE)
}

# --- Kaplan-Meier -----------------------------------------------------------------------------
km_cases <- list(
  list(case = "ties",            dataset = "data_ties.csv",          group = "group", entry = NA),
  list(case = "ties_pooled",     dataset = "data_ties.csv",          group = NA,      entry = NA),
  list(case = "three_groups",    dataset = "data_three_groups.csv",  group = "group", entry = NA),
  list(case = "flat_median",     dataset = "data_flat_median.csv",   group = "group", entry = NA),
  list(case = "delayed_entry",   dataset = "data_delayed_entry.csv", group = "group", entry = "entry"),
  list(case = "delayed_pooled",  dataset = "data_delayed_entry.csv", group = NA,      entry = "entry"),
  list(case = "cohort300",       dataset = "data_cohort300.csv",     group = "tier",  entry = NA),
  list(case = "cohort300_entry", dataset = "data_cohort300.csv",     group = "tier",  entry = "entry")
)
conf_settings <- list(
  list(conf_type = "log-log", conf_level = 0.95),
  list(conf_type = "log", conf_level = 0.95),
  list(conf_type = "log-log", conf_level = 0.90),
  list(conf_type = "log", conf_level = 0.90)
)

km_rows <- list()
km_summary_rows <- list()
for (kc in km_cases) {
  d <- datasets[[kc$dataset]]
  rhs <- if (is.na(kc$group)) "1" else kc$group
  fml <- as.formula(paste(surv_lhs(kc$entry), "~", rhs))
  for (cs in conf_settings) {
    # 90% intervals only for a few cases (they check that alpha is passed through).
    if (cs$conf_level != 0.95 && !(kc$case %in% c("ties", "delayed_entry", "cohort300"))) next
    fit <- survfit(fml, data = d, conf.type = cs$conf_type, conf.int = cs$conf_level)
    add_case("km", kc$case, kc$dataset,
             sprintf('fit <- survfit(%s ~ %s, data = read.csv("%s"), conf.type = "%s", conf.int = %s); summary(fit, censored = TRUE); summary(fit)$table; quantile(fit, 0.5)',
                     surv_lhs(kc$entry), rhs, kc$dataset, cs$conf_type, cs$conf_level),
             group_var = kc$group, entry_var = kc$entry, conf_type = cs$conf_type,
             conf_level = cs$conf_level)
    key <- data.frame(case = kc$case, conf_type = cs$conf_type, conf_level = cs$conf_level,
                      stringsAsFactors = FALSE)

    s <- summary(fit, censored = TRUE)
    grp <- if (is.null(s$strata)) NA_character_ else sub("^[^=]*=", "", as.character(s$strata))
    # std_err here is summary()'s: the standard error of surv (fit$std.err is that of log surv).
    km_rows[[length(km_rows) + 1]] <- cbind(
      key, group = grp, time = s$time, n_risk = s$n.risk, n_event = s$n.event,
      n_censor = s$n.censor, surv = s$surv, std_err = s$std.err, lower = s$lower,
      upper = s$upper, stringsAsFactors = FALSE)

    tab <- summary(fit)$table
    if (is.null(dim(tab))) tab <- t(as.matrix(tab))
    q <- quantile(fit, probs = 0.5)
    lcl <- grep("LCL$", colnames(tab), value = TRUE)
    ucl <- grep("UCL$", colnames(tab), value = TRUE)
    km_summary_rows[[length(km_summary_rows) + 1]] <- cbind(
      key, group = if (is.null(fit$strata)) NA_character_ else sub("^[^=]*=", "", rownames(tab)),
      records = tab[, "records"], n_max = tab[, "n.max"], n_start = tab[, "n.start"],
      events = tab[, "events"], median = tab[, "median"], median_lcl = tab[, lcl],
      median_ucl = tab[, ucl], quantile_50 = as.vector(q$quantile),
      quantile_50_lower = as.vector(q$lower), quantile_50_upper = as.vector(q$upper),
      stringsAsFactors = FALSE)
  }
}
km <- do.call(rbind, km_rows)
km_summary <- do.call(rbind, km_summary_rows)
rownames(km_summary) <- NULL
write.csv(km, path("r_km.csv"), row.names = FALSE)
write.csv(km_summary, path("r_km_summary.csv"), row.names = FALSE)

# --- log-rank -------------------------------------------------------------------------------
logrank_cases <- list(
  list(case = "ties",         dataset = "data_ties.csv",         group = "group"),
  list(case = "three_groups", dataset = "data_three_groups.csv", group = "group"),
  list(case = "flat_median",  dataset = "data_flat_median.csv",  group = "group"),
  list(case = "cohort300",    dataset = "data_cohort300.csv",    group = "tier"),
  # c leaves before the first event (expected 0: left out by survdiff); d has no events; the
  # pair c-d has no events at all (chisq 0 on -1 df, p NaN)
  list(case = "empty_groups", dataset = "data_empty_groups.csv", group = "group")
)
survdiff_stats <- function(d, group) {
  fit <- survdiff(as.formula(paste("Surv(time, event) ~", group)), data = d)
  df <- sum(fit$exp > 0) - 1  # as print.survdiff
  c(chisq = fit$chisq, df = df, p = pchisq(fit$chisq, df, lower.tail = FALSE))
}
lr_rows <- list()
pw_rows <- list()
for (lc in logrank_cases) {
  d <- datasets[[lc$dataset]]
  st <- survdiff_stats(d, lc$group)
  add_case("logrank", lc$case, lc$dataset,
           sprintf('fit <- survdiff(Surv(time, event) ~ %s, data = read.csv("%s")); pchisq(fit$chisq, df, lower.tail = FALSE)',
                   lc$group, lc$dataset),
           group_var = lc$group)
  lr_rows[[length(lr_rows) + 1]] <- data.frame(
    case = lc$case, chisq = st[["chisq"]], df = st[["df"]], p_value = st[["p"]],
    stringsAsFactors = FALSE)

  lv <- sort(unique(d[[lc$group]]))
  pairs <- combn(lv, 2)
  pw <- data.frame(case = lc$case, group_a = pairs[1, ], group_b = pairs[2, ],
                   stringsAsFactors = FALSE)
  res <- t(apply(pairs, 2, function(pr) survdiff_stats(d[d[[lc$group]] %in% pr, ], lc$group)))
  pw$chisq <- res[, "chisq"]
  pw$df <- res[, "df"]
  pw$p_value <- res[, "p"]
  pw$p_holm <- p.adjust(pw$p_value, method = "holm")
  pw$p_bonferroni <- p.adjust(pw$p_value, method = "bonferroni")
  add_case("logrank_pairwise", lc$case, lc$dataset,
           sprintf('for each pair of groups: survdiff(Surv(time, event) ~ %s, data = subset(read.csv("%s"), %s %%in%% pair)); p.adjust(p, "holm"); p.adjust(p, "bonferroni")',
                   lc$group, lc$dataset, lc$group),
           group_var = lc$group)
  pw_rows[[length(pw_rows) + 1]] <- pw
}
write.csv(do.call(rbind, lr_rows), path("r_logrank.csv"), row.names = FALSE)
write.csv(do.call(rbind, pw_rows), path("r_logrank_pairwise.csv"), row.names = FALSE)

# --- Cox ------------------------------------------------------------------------------------
cox_cases <- list(
  list(case = "cox_ties",             dataset = "data_cox_ties.csv",  covariates = c("x1", "x2", "x3"), strata = NA),
  list(case = "cox_ties_strata",      dataset = "data_cox_ties.csv",  covariates = c("x1", "x2", "x3"), strata = "s"),
  list(case = "cohort300_cox",        dataset = "data_cohort300.csv", covariates = c("female", "age", "phq9"), strata = NA),
  list(case = "cohort300_cox_strata", dataset = "data_cohort300.csv", covariates = c("female", "age", "phq9"), strata = "site")
)
cox_rows <- list()
zph_rows <- list()
for (cc in cox_cases) {
  d <- datasets[[cc$dataset]]
  rhs <- paste(cc$covariates, collapse = " + ")
  if (!is.na(cc$strata)) rhs <- sprintf("%s + strata(%s)", rhs, cc$strata)
  fit <- coxph(as.formula(paste("Surv(time, event) ~", rhs)), data = d, ties = "efron")
  add_case("cox", cc$case, cc$dataset,
           sprintf('fit <- coxph(Surv(time, event) ~ %s, data = read.csv("%s"), ties = "efron"); summary(fit); cox.zph(fit)  # transform = "km" (default)',
                   rhs, cc$dataset),
           covariates = paste(cc$covariates, collapse = "+"), strata_var = cc$strata)
  sm <- summary(fit)
  co <- sm$coefficients
  ci <- sm$conf.int
  cox_rows[[length(cox_rows) + 1]] <- data.frame(
    case = cc$case, term = rownames(co), coef = co[, "coef"], se = co[, "se(coef)"],
    hr = co[, "exp(coef)"], hr_lower = ci[, "lower .95"], hr_upper = ci[, "upper .95"],
    z = co[, "z"], p_value = co[, "Pr(>|z|)"], loglik = fit$loglik[2], n = fit$n,
    nevent = fit$nevent, stringsAsFactors = FALSE)

  zph <- cox.zph(fit)  # transform = "km", terms = TRUE, global = TRUE
  zt <- zph$table
  zph_rows[[length(zph_rows) + 1]] <- data.frame(
    case = cc$case, transform = zph$transform, term = rownames(zt), chisq = zt[, "chisq"],
    df = zt[, "df"], p_value = zt[, "p"], stringsAsFactors = FALSE)
}
cox <- do.call(rbind, cox_rows)
zph <- do.call(rbind, zph_rows)
rownames(cox) <- NULL
rownames(zph) <- NULL
write.csv(cox, path("r_cox.csv"), row.names = FALSE)
write.csv(zph, path("r_cox_zph.csv"), row.names = FALSE)

# --- Aalen-Johansen cumulative incidence ------------------------------------------------------
cif_cases <- list(
  list(case = "competing",        dataset = "data_competing.csv", group = NA),
  list(case = "competing_groups", dataset = "data_competing.csv", group = "group"),
  list(case = "cohort300_cif",    dataset = "data_cohort300.csv", group = "tier")
)
cif_rows <- list()
for (cc in cif_cases) {
  d <- datasets[[cc$dataset]]
  rhs <- if (is.na(cc$group)) "1" else cc$group
  fit <- survfit(as.formula(paste("Surv(time, factor(status, 0:2)) ~", rhs)), data = d)
  add_case("cif", cc$case, cc$dataset,
           sprintf('fit <- survfit(Surv(time, factor(status, 0:2)) ~ %s, data = read.csv("%s")); fit$pstate, fit$lower, fit$upper  # fit$conf.type = "%s" (the default)',
                   rhs, cc$dataset, fit$conf.type),
           event_var = "status", group_var = cc$group, conf_type = fit$conf.type,
           conf_level = fit$conf.int)
  grp <- strata_labels(fit, length(fit$time))
  stopifnot(identical(fit$states, c("(s0)", "1", "2")))
  for (cause in c("1", "2")) {
    k <- match(cause, fit$states)  # column of that state in pstate, std.err, lower, upper
    # std_err: R's (infinitesimal jackknife) standard error of the state probability itself.
    cif_rows[[length(cif_rows) + 1]] <- data.frame(
      case = cc$case, cause = as.integer(cause), conf_type = fit$conf.type,
      conf_level = fit$conf.int, group = grp, time = fit$time, n_risk = fit$n.risk[, 1],
      n_event_cause = fit$n.event[, k], n_censor = fit$n.censor, cif = fit$pstate[, k],
      std_err = fit$std.err[, k], lower = fit$lower[, k], upper = fit$upper[, k],
      stringsAsFactors = FALSE)
  }
}
write.csv(do.call(rbind, cif_rows), path("r_cif.csv"), row.names = FALSE)
write.csv(do.call(rbind, cases), path("r_cases.csv"), row.names = FALSE)

writeLines(c("# sessionInfo() of the R that wrote the r_*.csv files (make_reference.R)",
             capture.output(sessionInfo())),
           path("R_SESSION.txt"))
cat("wrote reference files to", here, "\n")
