# Independent reference values for workbench.trial.mixed_anova, computed by R (base R + stats only).
#
# Run from the repository root, after make_reference.R (which writes data_three_arm.csv):
#     Rscript tests/reference/trial/make_reference_mixed.R
#
# Inputs (both wide, one row per resident; NA = missing):
#   data_rct.csv         the sample trial: arm, phq9_0/6/12, gad7_0/6/12
#   data_three_arm.csv   the seeded 3-arm trial; its two waves are `baseline` and `outcome`, and
#                        a resident's id is its row number (1, 2, ...)
# Output (write.csv, 15 significant digits):
#   r_mixed_anova.csv    one row per case and effect (arm, the wave, interaction): ss, df1, df2,
#                        ms, f, p_value, n (residents analysed), n_excluded, r_call
#
# Method: complete cases by resident (anyone missing a score at any wave is dropped, as
# pingouin.mixed_anova does), then the classical split-plot ANOVA
#     summary(aov(y ~ arm * wave + Error(id / wave), data = long))
# arm is tested in the Error: id stratum (between residents), wave and arm:wave in the
# Error: id:wave stratum. With complete data the strata are orthogonal and the sums of squares
# are the same whichever order the terms take. No sphericity correction (F and p uncorrected,
# df as is): workbench.trial.mixed_anova calls pingouin with correction=False.
# Never edit r_mixed_anova.csv by hand, and never replace it with Python output.

dir <- "tests/reference/trial"
rct <- read.csv(file.path(dir, "data_rct.csv"), stringsAsFactors = FALSE)
three <- read.csv(file.path(dir, "data_three_arm.csv"), stringsAsFactors = FALSE)
three$resident_id <- seq_len(nrow(three))
datasets <- list(data_rct.csv = rct, data_three_arm.csv = three)

cases <- list(
  list(case = "rct_phq9", data = "data_rct.csv", waves = c("phq9_0", "phq9_6", "phq9_12")),
  list(case = "rct_gad7", data = "data_rct.csv", waves = c("gad7_0", "gad7_6", "gad7_12")),
  list(case = "three_arm", data = "data_three_arm.csv", waves = c("baseline", "outcome"))
)

rows <- list()
for (k in cases) {
  d <- datasets[[k$data]]
  ok <- complete.cases(d[, k$waves])
  w <- d[ok, ]
  long <- data.frame(
    id = factor(rep(w$resident_id, times = length(k$waves))),
    arm = factor(rep(w$arm, times = length(k$waves))),
    wave = factor(rep(k$waves, each = nrow(w)), levels = k$waves),
    y = unlist(w[, k$waves], use.names = FALSE))
  fit <- aov(y ~ arm * wave + Error(id / wave), data = long)
  s <- summary(fit)
  between <- s[["Error: id"]][[1]]
  within <- s[["Error: id:wave"]][[1]]
  rownames(between) <- trimws(rownames(between)); rownames(within) <- trimws(rownames(within))
  get <- function(tab, term) {
    data.frame(ss = tab[term, "Sum Sq"], df1 = tab[term, "Df"], df2 = tab["Residuals", "Df"],
               ms = tab[term, "Mean Sq"], f = tab[term, "F value"], p_value = tab[term, "Pr(>F)"])
  }
  eff <- rbind(get(between, "arm"), get(within, "wave"), get(within, "arm:wave"))
  rows[[length(rows) + 1]] <- data.frame(
    case = k$case, data = k$data, waves = paste(k$waves, collapse = ";"),
    source = c("arm", "wave", "interaction"), eff,
    n = nrow(w), n_excluded = sum(!ok),
    r_call = "summary(aov(y ~ arm * wave + Error(id / wave), data = complete_cases_long))")
}
out <- do.call(rbind, rows)
write.csv(out, file.path(dir, "r_mixed_anova.csv"), row.names = FALSE)
print(out[, c("case", "source", "df1", "df2", "f", "p_value", "n", "n_excluded")])

writeLines(c("# sessionInfo() of the R that wrote r_mixed_anova.csv (make_reference_mixed.R)",
             capture.output(sessionInfo())), file.path(dir, "R_SESSION_mixed.txt"))
