"""Which communities make up each site of a federation, and each site's own analysis tables.

A federated analysis keeps each site's records on its own server. To test and to demonstrate
one on a single registry (the sample, a synthetic city), :func:`split_tables` cuts the analysis
tables into one :class:`~workbench.tables.Tables` per site: a site gets its communities (the
``communities`` rows) and its residents (``residents`` whose ``community`` is one of them), and
every other table follows its residents (every table but ``communities`` has a ``resident_id``).
The split is a partition: every row of every table lands at exactly one site, so the pooled
analysis of the concatenated site tables is the analysis of the whole registry.

Examples
--------
>>> from workbench.sample import load_sample
>>> tables = load_sample()
>>> by_community(tables)["urban-01"], sorted(by_community_type(tables))
(['urban-01'], ['ageing', 'rural', 'urban'])
>>> parts = split_tables(tables, by_community_type(tables))
>>> sum(len(t.residents) for t in parts.values()) == len(tables.residents)
True
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from workbench._errors import RowProblemsError
from workbench.tables import Tables

__all__ = ["SiteSplitError", "by_community", "by_community_type", "concat_tables", "split_tables"]


class SiteSplitError(RowProblemsError):
    """A site plan that does not partition the communities; every problem is named."""

    table = "sites"


def by_community(tables: Tables) -> dict[str, list[str]]:
    """One site per community: ``{community: [community]}`` in the ``communities`` table's order."""
    return {str(c): [str(c)] for c in tables.communities["community"]}


def by_community_type(tables: Tables) -> dict[str, list[str]]:
    """One site per community type: ``{community_type: [its communities]}`` (sorted by type).

    A community without a type is an error: it would belong to no site."""
    c = tables.communities
    blank = c.index[c["community_type"].isna()]
    if len(blank):
        raise SiteSplitError([(i, "community_type", None, "is blank: the community belongs to no site")
                              for i in blank], context="by_community_type", table="communities")
    out: dict[str, list[str]] = {}
    for community, kind in zip(c["community"], c["community_type"]):
        out.setdefault(str(kind), []).append(str(community))
    return dict(sorted(out.items()))


def split_tables(tables: Tables, sites: Mapping[str, Sequence[str]]) -> dict[str, Tables]:
    """The analysis tables of each site.

    Parameters
    ----------
    tables : workbench.tables.Tables
        The whole registry's analysis tables.
    sites : mapping of str -> sequence of str
        Site name -> its communities. Every community of ``tables.communities`` must belong to
        exactly one site, and every community named must be in ``tables.communities``.

    Returns
    -------
    dict of str -> Tables
        Site name -> its tables (``attrs`` copied, with ``site`` and ``communities`` added):
        ``communities`` rows of its communities, ``residents`` living in them, and every other
        table's rows of those residents.

    Raises
    ------
    SiteSplitError
        Naming every community in two sites, in none, or unknown, and every resident whose
        community is in no site; nothing is split.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> parts = split_tables(load_sample(), {"town": ["urban-01", "urban-02", "urban-03"],
    ...                                      "country": ["rural-01", "rural-02", "ageing-01"]})
    >>> {name: len(t.residents) for name, t in parts.items()}
    {'town': 1650, 'country': 1350}
    >>> split_tables(load_sample(), {"town": ["urban-01"]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    workbench.federated.sites.SiteSplitError: ...
    """
    known = [str(c) for c in tables.communities["community"]]
    owner: dict[str, str] = {}
    problems: list[tuple] = []
    for site, communities in sites.items():
        if isinstance(communities, str):
            problems.append((None, site, communities, "must be a list of communities, not one string"))
            continue
        for community in communities:
            if community in owner:
                problems.append((None, site, community, f"is already in site {owner[community]!r}: a community "
                                 "belongs to one site"))
            elif community not in known:
                problems.append((None, site, community, f"is not a community of the tables ({known})"))
            else:
                owner[community] = site
    problems += [(None, None, c, "is in no site: every community must belong to one site")
                 for c in known if c not in owner]
    residents = tables.residents
    community = residents["community"].astype(object)
    lost = ~community.isin(list(owner)).to_numpy(bool)
    problems += [(i, "community", v, "is in no site: this resident's community is not in the communities table")
                 for i, v in zip(residents.index[lost], community[lost])]
    if problems:
        raise SiteSplitError(problems, context="split_tables")
    site_of = community.map(owner)
    out = {}
    for site, communities in sites.items():
        ids = residents.loc[(site_of == site).to_numpy(bool), "resident_id"]
        frames = {}
        for name, frame in tables.items():
            if name == "communities":
                frames[name] = frame[frame["community"].isin(list(communities)).to_numpy(bool)]
            else:
                frames[name] = frame[frame["resident_id"].isin(ids).to_numpy(bool)]
        out[site] = Tables(attrs={**tables.attrs, "site": site, "communities": list(communities)}, **frames)
    return out


def concat_tables(parts: Mapping[str, Tables] | Sequence[Tables]) -> Tables:
    """The site tables put back together (the pooled tables a pooled reference analysis reads):
    each table the concatenation of the sites' in site order.

    Examples
    --------
    >>> from workbench.sample import load_sample
    >>> t = load_sample()
    >>> len(concat_tables(split_tables(t, by_community(t))).events) == len(t.events)
    True
    """
    parts = list(parts.values()) if isinstance(parts, Mapping) else list(parts)
    if not parts:
        raise ValueError("concat_tables needs at least one site's tables.")
    frames = {name: pd.concat([p[name] for p in parts]) for name in parts[0]}
    attrs = {k: v for k, v in parts[0].attrs.items() if k not in ("site", "communities")}
    return Tables(attrs=attrs, **frames)
