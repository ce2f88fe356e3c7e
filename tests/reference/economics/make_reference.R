# Independent reference values for workbench/economics.py, computed by base R only.
#
# Run from the repository root, after the seeded inputs exist (make_economics_data.py writes them):
#     .venv/bin/python tests/reference/economics/make_economics_data.py
#     Rscript tests/reference/economics/make_reference.R
#
# Inputs (committed):
#   data.csv              one row per person: id, arm, intervention_cost, medical_cost, cost,
#                         qaly, remitted (0/1); blanks are missing
#   boot_indices.csv.gz   the bootstrap resamples workbench.economics draws (0-based positions
#                         into each arm's complete-case rows, in file order), one row per
#                         analysis, arm, group ("arm" or "reference") and replicate
# Outputs:
#   r_cost_effectiveness.csv    per analysis (ce_qaly: effect qaly; ce_remitted: effect
#                               remitted, so cost_per_effect is the cost per remission), arm and
#                               confidence level: complete-case counts, means, deltas, ICER,
#                               average cost per unit of effect, and percentile intervals of the
#                               deltas and the ICER over the given resamples
#   r_return_on_investment.csv  per arm and confidence level: means, cost saved, ROI and its
#                               percentile interval over the given resamples
#   R_SESSION.txt               sessionInfo()
#
# The definitions are those stated in the docstrings of workbench.economics:
#   complete case (cost_effectiveness: cost and effect present; return_on_investment: medical
#   cost present, and the intervention cost too outside the reference arm); n_excluded counts
#   the excluded rows of the arm and of the reference; delta = arm mean - reference mean;
#   icer = delta_cost / delta_effect; cost_per_effect = mean cost / mean effect;
#   roi = (reference mean medical cost - arm mean medical cost) / arm mean intervention cost;
#   percentile limits = quantile(type = 7) of the finite replicates at alpha/2 and 1 - alpha/2;
#   the ICER limits are NA when the delta_effect interval includes 0.
# Numbers are written with 15 significant digits. Never edit the r_*.csv files by hand.

file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(file_arg) == 1) dirname(normalizePath(sub("^--file=", "", file_arg))) else "tests/reference/economics"
path <- function(name) file.path(here, name)
write_num <- function(df, name) {
  for (c in names(df)) if (is.numeric(df[[c]])) df[[c]] <- signif(df[[c]], 15)
  write.csv(df, path(name), row.names = FALSE, na = "")
}

reference <- "usual_care"
levels <- c(0.95, 0.90)
d <- read.csv(path("data.csv"), stringsAsFactors = FALSE)
boot <- read.csv(path("boot_indices.csv.gz"), stringsAsFactors = FALSE)   # gzip read by file()

# replicate means of `values` (a numeric vector) over the resamples of one block
boot_means <- function(analysis, arm, group, values) {
  b <- boot[boot$analysis == analysis & boot$arm == arm & boot$group == group, ]
  b <- b[order(b$replicate), ]
  pos <- lapply(strsplit(b$draws, " ", fixed = TRUE), function(s) as.integer(s) + 1L)
  stopifnot(all(vapply(pos, function(p) max(p) <= length(values), logical(1))))
  vapply(pos, function(p) mean(values[p]), numeric(1))
}
limits <- function(x, level) {
  x <- x[is.finite(x)]
  a <- 1 - level
  if (length(x) == 0) return(c(NA_real_, NA_real_))
  quantile(x, c(a / 2, 1 - a / 2), type = 7, names = FALSE)
}
arms_of <- function(frame) sort(setdiff(unique(frame$arm), reference), method = "radix")

# --- cost_effectiveness ---------------------------------------------------------------------
ce_rows <- list()
for (analysis in c("ce_qaly", "ce_remitted")) {
  effect <- if (analysis == "ce_qaly") "qaly" else "remitted"
  keep <- !is.na(d$cost) & !is.na(d[[effect]])
  cc <- d[keep, ]
  ref <- cc[cc$arm == reference, ]
  for (a in arms_of(d)) {
    sub <- cc[cc$arm == a, ]
    n_excluded <- sum(!keep & d$arm %in% c(a, reference))
    m_c <- mean(sub$cost); m0_c <- mean(ref$cost)
    m_e <- mean(sub[[effect]]); m0_e <- mean(ref[[effect]])
    dc <- m_c - m0_c; de <- m_e - m0_e
    bdc <- boot_means(analysis, a, "arm", sub$cost) - boot_means(analysis, a, "reference", ref$cost)
    bde <- boot_means(analysis, a, "arm", sub[[effect]]) - boot_means(analysis, a, "reference", ref[[effect]])
    for (level in levels) {
      dc_ci <- limits(bdc, level); de_ci <- limits(bde, level)
      icer_ci <- if (de_ci[1] <= 0 && 0 <= de_ci[2]) c(NA_real_, NA_real_) else limits(bdc / bde, level)
      ce_rows[[length(ce_rows) + 1]] <- data.frame(
        analysis = analysis, effect = effect, arm = a, conf_level = level,
        n = nrow(sub), n_reference = nrow(ref), n_excluded = n_excluded,
        mean_cost = m_c, mean_cost_reference = m0_c, mean_effect = m_e, mean_effect_reference = m0_e,
        delta_cost = dc, delta_cost_ci_low = dc_ci[1], delta_cost_ci_high = dc_ci[2],
        delta_effect = de, delta_effect_ci_low = de_ci[1], delta_effect_ci_high = de_ci[2],
        icer = if (de != 0) dc / de else NA_real_, icer_ci_low = icer_ci[1], icer_ci_high = icer_ci[2],
        cost_per_effect = m_c / m_e, cost_per_effect_reference = m0_c / m0_e)
    }
  }
}
write_num(do.call(rbind, ce_rows), "r_cost_effectiveness.csv")

# --- return_on_investment ---------------------------------------------------------------------
roi_rows <- list()
keep <- !is.na(d$medical_cost) & (d$arm == reference | !is.na(d$intervention_cost))
cc <- d[keep, ]
ref <- cc[cc$arm == reference, ]
for (a in arms_of(d)) {
  sub <- cc[cc$arm == a, ]
  m_i <- mean(sub$intervention_cost); m_m <- mean(sub$medical_cost); m0_m <- mean(ref$medical_cost)
  broi <- (boot_means("roi", a, "reference", ref$medical_cost) - boot_means("roi", a, "arm", sub$medical_cost)) /
    boot_means("roi", a, "arm", sub$intervention_cost)
  for (level in levels) {
    ci <- limits(broi, level)
    roi_rows[[length(roi_rows) + 1]] <- data.frame(
      arm = a, conf_level = level, n = nrow(sub), n_reference = nrow(ref),
      n_excluded = sum(!keep & d$arm %in% c(a, reference)),
      mean_intervention_cost = m_i, mean_medical_cost = m_m, mean_medical_cost_reference = m0_m,
      medical_cost_saved = m0_m - m_m, roi = (m0_m - m_m) / m_i, roi_ci_low = ci[1], roi_ci_high = ci[2])
  }
}
write_num(do.call(rbind, roi_rows), "r_return_on_investment.csv")

writeLines(capture.output(sessionInfo()), path("R_SESSION.txt"))
