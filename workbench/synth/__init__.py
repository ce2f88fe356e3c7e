"""Seeded generator of a realistic synthetic community (residents, chronic conditions,
item-level screening answers from a latent-trait model), of the stepped-care follow-up of
those referred (referrals, contacts, repeated PHQ-9 / GAD-7 reviews with changing traits) and
of a follow-up of up to five years (events with death as a competing event, loss to
follow-up, monthly community follow-up, a cohort of key patients assessed at waves, a
12-month RCT of chronic patients).

>>> from workbench.synth import community
>>> c = community(300, seed=1)
>>> sorted(c.residents["community_type"].unique())
['ageing', 'rural', 'urban']

The data are synthetic. Every parameter, with where it comes from, is in ``params.yaml``;
the generation steps and their random streams are in :mod:`workbench.synth.engine`.
"""

from .core import Community, community

__all__ = ["Community", "community"]
