# Independent reference values for workbench/geo/need.py (direct age standardisation per
# community), computed by epitools::ageadjust.direct.
#
# Run from the repository root, after the inputs (see make_geo_inputs.py):
#     .venv/bin/python tests/reference/geo/make_geo_inputs.py
#     Rscript tests/reference/geo/make_reference.R
#
#   age_counts.csv    inputs: measure, community, age_group, count, pop (the sample's counts)
#   std_pop.csv       inputs: the China 2020 census in the workbench's adult age groups
#   r_ageadjust.csv   ageadjust.direct(count, pop, stdpop = std_pop, conf.level = 0.95) per
#                     measure and community: crude.rate, adj.rate, lci, uci
#   R_SESSION.txt     sessionInfo()
#
# Numbers are written with 15 significant digits. Never edit r_ageadjust.csv by hand.

suppressPackageStartupMessages(library(epitools))
file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(file_arg) == 1) dirname(normalizePath(sub("^--file=", "", file_arg))) else "tests/reference/geo"
path <- function(name) file.path(here, name)

counts <- read.csv(path("age_counts.csv"), stringsAsFactors = FALSE)
std <- read.csv(path("std_pop.csv"), stringsAsFactors = FALSE)
rows <- list()
for (m in unique(counts$measure)) {
  for (cm in unique(counts$community[counts$measure == m])) {
    part <- counts[counts$measure == m & counts$community == cm, ]
    part <- part[match(std$age_group, part$age_group), ]   # the standard's order; every group present
    stopifnot(!anyNA(part$pop))
    r <- ageadjust.direct(count = part$count, pop = part$pop, stdpop = std$pop, conf.level = 0.95)
    rows[[length(rows) + 1]] <- data.frame(measure = m, community = cm, crude = r[["crude.rate"]],
                                           adjusted = r[["adj.rate"]], ci_low = r[["lci"]], ci_high = r[["uci"]])
  }
}
out <- do.call(rbind, rows)
for (c in names(out)) if (is.numeric(out[[c]])) out[[c]] <- signif(out[[c]], 15)
write.csv(out, path("r_ageadjust.csv"), row.names = FALSE)
writeLines(capture.output(sessionInfo()), path("R_SESSION.txt"))
