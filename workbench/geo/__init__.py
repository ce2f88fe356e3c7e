"""Community maps: where need is high and services are far (the programme's resource heat map).

- :mod:`.geography`: a site's boundaries, service points and homes (GeoJSON or shapefile, a
  projected CRS), checked on load; the sample's synthetic map (:mod:`.sample_data`).
- :mod:`.need`: screen-positive and tier 2/3 rates by community from the stored scores and
  decisions, age-standardised, empirical-Bayes smoothed (Marshall 1991), small counts hidden.
- :mod:`.access`: straight-line distance from each home to the nearest service point.
- :mod:`.blind_spots`: high need and long distance, ranked by a declared rule.
- :mod:`.layers`: the one table both maps draw; :mod:`.legend`: their classes, colours and words.
"""
