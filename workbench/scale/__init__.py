"""The workbench over partitioned Parquet on Dask, for cohorts past one machine."""

from workbench.scale._cohort import cohort_partition, partition_seed, write_cohort
from workbench.scale._compute import ScaleDataError
from workbench.scale._cox import AggregateCoxModel, cox, fine_gray
from workbench.scale._rowwise import score, screen
from workbench.scale._survival import km, km_summary, logrank, survival_counts

__all__ = ["AggregateCoxModel", "ScaleDataError", "cox", "cohort_partition", "fine_gray", "partition_seed", "write_cohort", "km", "km_summary", "logrank", "score", "screen", "survival_counts"]
