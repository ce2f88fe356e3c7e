"""The generation pipeline: a registry of steps, each with its own random stream.

Reproducibility contract
------------------------
Every step owns one random stream, derived from the seed with numpy's ``SeedSequence`` spawn
mechanism: the stream of the step registered with key ``k`` is
``SeedSequence(seed).spawn(k + 1)[k]`` (built directly as
``SeedSequence(seed, spawn_key=(k,))``, which is what ``spawn`` does). A step that needs several
independent streams (one per instrument, say) spawns them one level down with a key derived from
a stable name (CRC-32 of the instrument id), so adding, removing or reordering instruments does
not change the answers of the others.

Keys are part of the contract: never renumber or reuse one. A new component (follow-up waves,
contacts, dropout, events, an RCT arm) registers a new step with a new key; what the existing
steps produce for a given seed is unchanged.

Registered keys: 0 demography, 1 schedule, 2 conditions, 3 latent, 4 answers, 5 missingness,
(skip_logic uses no randomness; 6 is left unused), 7 contacts, 8 trajectory, 9 followup_answers,
10 followup_missingness (referral and followup_skip_logic use no randomness), 11
natural_history, 12 loss_to_follow_up, 13 trial, 14 events, 15 maintenance, 16 waves,
17 trial_assessments, 18 satisfaction (the end-of-referral survey), 19 measurements (the
chronic-disease follow-up readings, residents.ckd and the length of hospital stays), 20 smd
(the severe-mental-disorder register, its follow-ups and the rehabilitation ladder).

Long follow-up (keys 11-17) is drawn so that a longer follow-up extends a shorter one: draws
that happen per period (events, maintenance contacts) use one sub-stream per year of follow-up
(``(key, ..., year)``), and per-person draws do not depend on the follow-up length, so the
rows up to a date are the same whatever ``follow_up_end`` or ``follow_up_years`` is (the
monthly maintenance contacts exist only with ``follow_up_years >= 2``).

Follow-up (referrals, contacts, reviews) is a chain of steps on top of the baseline: a later
component (cohort waves, events such as a crisis or a cardiovascular event, an RCT arm)
registers its own step with a new key, reads what it needs (``draft.referrals``,
:func:`workbench.synth.trajectory.trait_at` for the latent traits on any date) and adds its own
table to ``draft.tables``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Draft:
    """Everything generated so far, as numpy arrays (one entry per resident).

    Steps read what earlier steps wrote and add their own columns. ``residents``,
    ``screenings`` and ``latent`` become the DataFrames of :class:`~workbench.synth.Community`;
    ``referrals``, ``contacts`` and ``followups`` hold one entry per referral, contact and
    review (before the ``follow_up_end`` cut, which is applied when the frames are built);
    ``tables`` holds the long follow-up (``events``, ``waves``, ``enrolments``,
    ``trial_assessments``, ``maintenance``), already cut at death, loss to follow-up and
    ``follow_up_end`` by their steps; ``work`` holds intermediate arrays (complete answers
    before blanks, ...) that are not published. ``policy`` is the loaded stepped-care policy.
    """

    n: int
    seed: int
    start: np.datetime64
    end: np.datetime64
    instruments: tuple[str, ...]
    params: dict[str, Any]
    residents: dict[str, Any] = field(default_factory=dict)
    screenings: dict[str, Any] = field(default_factory=dict)
    latent: dict[str, np.ndarray] = field(default_factory=dict)
    work: dict[str, Any] = field(default_factory=dict)
    follow_up_end: Any = None
    policy: Any = None
    follow_up_years: int = 1
    referrals: dict[str, Any] = field(default_factory=dict)
    contacts: dict[str, Any] = field(default_factory=dict)
    followups: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)

    def seed_sequence(self, key: int, *subkeys: int) -> np.random.SeedSequence:
        """The ``SeedSequence`` of stream ``key`` (and optional sub-streams)."""
        return np.random.SeedSequence(self.seed, spawn_key=(key, *subkeys))

    def rng(self, key: int, *subkeys: int) -> np.random.Generator:
        """A fresh ``Generator`` (PCG64) on stream ``key`` (and optional sub-streams)."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(key, *subkeys)))


def name_key(name: str) -> int:
    """A stable sub-stream key for a name (CRC-32 of its UTF-8 bytes).

    Examples
    --------
    >>> name_key("phq9")
    1704863143
    """
    return zlib.crc32(name.encode("utf-8"))


@dataclass(frozen=True)
class Step:
    """One generation step: ``func(draft, rng)`` adds columns to ``draft``.

    ``key`` is the step's stream key (``None`` for a step that draws nothing, which then gets
    ``rng=None``). ``needs`` lists steps that must have run first.
    """

    name: str
    key: int | None
    func: Callable[[Draft, np.random.Generator | None], None]
    needs: tuple[str, ...] = ()


STEPS: dict[str, Step] = {}


def register(name: str, *, key: int | None, needs: tuple[str, ...] = ()) -> Callable:
    """Decorator adding a step to :data:`STEPS` (keys must be unique)."""

    def wrap(func: Callable[[Draft, np.random.Generator | None], None]) -> Callable:
        if name in STEPS:
            raise ValueError(f"A synth step named {name!r} is already registered.")
        if key is not None and any(s.key == key for s in STEPS.values()):
            raise ValueError(f"The stream key {key} of synth step {name!r} is already in use.")
        STEPS[name] = Step(name=name, key=key, func=func, needs=tuple(needs))
        return func

    return wrap


def order(names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The named steps (default all) in an order where each follows the steps it needs.

    Registration order breaks ties, so the order (and hence the data) does not depend on the
    order in which step modules happen to be imported as long as ``needs`` are declared.
    """
    wanted = list(STEPS) if names is None else list(names)
    unknown = [n for n in wanted if n not in STEPS]
    if unknown:
        raise ValueError(f"Unknown synth steps {unknown}; registered: {list(STEPS)}.")
    done: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in path:
            raise ValueError(f"Synth steps depend on each other in a cycle: {path + (name,)}.")
        for need in STEPS[name].needs:
            if need not in STEPS:
                raise ValueError(f"Synth step {name!r} needs the unregistered step {need!r}.")
            visit(need, path + (name,))
        done.append(name)

    for name in sorted(wanted, key=list(STEPS).index):
        visit(name, ())
    return tuple(done)


def run(draft: Draft, steps: tuple[str, ...] | None = None) -> Draft:
    """Run the named steps (default: all registered), with the steps they need, on ``draft``."""
    for name in order(steps):
        step = STEPS[name]
        step.func(draft, None if step.key is None else draft.rng(step.key))
    return draft
