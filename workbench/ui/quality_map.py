"""The quality app's map section: need and distance to services by community, on the same
analysis tables the quality board reads.

:class:`QualityMap` draws :func:`workbench.geo.layers.map_frame` of the tables and the site's
geography (:func:`workbench.geo.geography.site_geography`: the folder in ``WORKBENCH_GEO``;
``workbench serve`` sets it to ``data_samples/geo`` for the sample registry) with
:class:`~workbench.ui.community_map.CommunityMap`. Without a configured geography the section
says so in one sentence; a geography that does not fit the registry is logged on the server and
the section says so, never with a traceback. The board's *Refresh* redraws it from the new read
(:meth:`QualityMap.update`), keeping the measure and the community chosen.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import ipywidgets as w

from workbench.instruments import LANG
from workbench.params import Interval, check
from workbench.ui._base import FieldMessage
from workbench.ui.community_map import CommunityMap, map_word

__all__ = ["QualityMap", "load_geography"]

log = logging.getLogger("workbench.ui")


def load_geography() -> Any:
    """The site's geography (``WORKBENCH_GEO``), None when none is configured, or the exception
    that reading it raised (logged here; :class:`QualityMap` shows a plain sentence for it). The
    quality app reads it once per kernel, before the page is known.

    A local basemap, when the folder has ``basemap.png`` and ``basemap.json``, is read with it
    (``Geography.basemap``, :func:`~workbench.geo.geography.site_geography`); the map draws it
    under the communities. Nothing is ever fetched for it.

    Examples
    --------
    >>> import os
    >>> os.environ.pop("WORKBENCH_GEO", None) and None
    >>> load_geography() is None
    True
    """
    from workbench.geo.geography import site_geography

    try:
        return site_geography()
    except Exception as err:  # noqa: BLE001 - the app shows one sentence; the details go to the log
        log.exception("The site geography (WORKBENCH_GEO) cannot be read")
        return err


class QualityMap(w.VBox):
    """The map section: a heading, what the map shows, and the map (or why there is none).

    Parameters
    ----------
    tables : workbench.tables.Tables
        The analysis tables the board reads.
    lang : {"zh", "en"}
    geography : Geography, None or Exception
        From :func:`load_geography`: None says no map is configured; an exception says the map
        cannot be shown.
    min_count : int
        Rates of communities with fewer residents are blank (as on the board).

    Attributes
    ----------
    map : CommunityMap or None
        The map drawn (None when there is none).

    Examples
    --------
    >>> from workbench.tables import Tables
    >>> section = QualityMap(Tables(), lang="en", geography=None)
    >>> section.map is None, section.message.text.startswith("No community map")
    (True, True)
    """

    def __init__(self, tables, *, lang: str, geography: Any, min_count: int = 5):
        check("QualityMap", "lang", lang, LANG)
        check("QualityMap", "min_count", min_count, Interval(int, 1, None))
        self.lang, self.geography, self.min_count = lang, geography, min_count
        self.map: CommunityMap | None = None
        self.heading = w.HTML()
        self.intro = w.HTML()
        self.message = FieldMessage()
        self.holder = w.VBox()
        super().__init__([self.heading, self.intro, self.message, self.holder])
        self.add_class("wb-quality-map")
        self._words()
        self.update(tables)

    def _words(self) -> None:
        e = html.escape
        self.heading.value = f"<h2>{e(map_word('map_section_title', self.lang))}</h2>"
        has_map = self.geography is not None and not isinstance(self.geography, BaseException)
        self.intro.value = f'<p class="wb-note">{e(map_word("map_section_intro", self.lang))}</p>' if has_map else ""

    def _labels(self) -> dict[str, str]:
        areas = self.geography.communities
        column = f"name_{self.lang}"
        return dict(zip(areas["community"], areas[column])) if column in areas.columns else {}

    def update(self, tables) -> None:
        """Draw the map of ``tables`` (keeping the measure and community chosen)."""
        self.message.clear()
        if self.geography is None:
            self.holder.children = []
            self.map = None
            self.message.info(map_word("map_no_geography", self.lang))
            return
        if isinstance(self.geography, BaseException):
            self.holder.children = []
            self.map = None
            self.message.error(map_word("map_unavailable", self.lang))
            return
        measure, selected = (self.map.measure, self.map.selected) if self.map is not None else (None, None)
        try:
            from workbench.geo.layers import map_frame

            g = self.geography
            frame = map_frame(tables, g, homes=g.homes, lang=self.lang, min_count=self.min_count)
            drawn = CommunityMap(frame, lang=self.lang, service_points=g.service_points,
                                 measure=measure if measure in frame.columns else None,
                                 basemap=g.basemap)
            if selected in set(frame["community"]):
                drawn.selected = selected
        except Exception:  # noqa: BLE001 - the app shows one sentence; the details go to the log
            log.exception("The community map cannot be drawn")
            self.holder.children = []
            self.map = None
            self.message.error(map_word("map_unavailable", self.lang))
            return
        self.map = drawn
        self.holder.children = [drawn]

    def set_language(self, lang: str) -> None:
        """Every word in ``lang`` (the map keeps its measure and community)."""
        check("QualityMap.set_language", "lang", lang, LANG)
        self.lang = lang
        self._words()
        if self.map is not None:
            self.map.set_language(lang, labels=self._labels())
        elif self.message.value:
            self.message.clear()
            if self.geography is None:
                self.message.info(map_word("map_no_geography", lang))
            else:
                self.message.error(map_word("map_unavailable", lang))
