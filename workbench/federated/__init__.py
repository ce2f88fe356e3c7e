"""Analysis across communities whose records stay on their own servers: only aggregates leave.

- :mod:`.protocol`: what a coordinator asks (:class:`~.protocol.Request`) and a site answers
  (:class:`~.protocol.Answer`); :mod:`.site`: a site's declared tasks and its small-count rule.
- :mod:`.analyses`: the coordinator's exact Kaplan-Meier, log-rank, Cox (stratified by site) and
  logistic regression, and FedAvg; :mod:`.pooled`: the same analyses on pooled records.
- :mod:`.local`: the sites in one process (tests, notebook); :mod:`.deploy` and
  :mod:`.flower_app`: Flower's deployment mode, one SuperNode per site.
"""
