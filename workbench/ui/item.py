"""One questionnaire item as an accessible radio group.

ipywidgets' ``RadioButtons`` draws its choices as separate, unnamed radio inputs with no group
role, so a screen reader hears "Several days, radio" without the question and the arrow keys do
not move between answers. This control draws a native ``<fieldset>`` whose ``<legend>`` is the
question and whose radios share one ``name``: the question is the group's accessible label, Tab
reaches the group and the arrow keys choose an answer. Its script is inline (anywidget), so
nothing is fetched from the internet.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["ItemQuestion"]

_ESM = r"""
let counter = 0;
function render({ model, el }) {
  const name = `wb-item-${Date.now().toString(36)}-${counter++}`;
  const fieldset = document.createElement("fieldset");
  fieldset.className = "wb-item";
  const legend = document.createElement("legend");
  const options = document.createElement("div");
  options.className = "wb-item-options";
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "wb-item-clear";
  fieldset.append(legend, options, clear);
  el.append(fieldset);

  function sync() {
    const value = model.get("value");
    for (const input of options.querySelectorAll("input")) {
      input.checked = value !== null && input.value === String(value);
    }
    fieldset.classList.toggle("wb-answered", value !== null);
    clear.hidden = value === null;
  }
  function draw() {
    legend.textContent = model.get("question");
    clear.textContent = model.get("clear_label");
    clear.setAttribute("aria-label", `${model.get("clear_label")}: ${model.get("question")}`);
    options.replaceChildren();
    for (const [label, value] of model.get("options")) {
      const wrap = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = name;
      input.value = String(value);
      input.disabled = model.get("disabled");
      input.addEventListener("change", () => {
        if (input.checked) { model.set("value", value); model.save_changes(); }
      });
      wrap.append(input, document.createTextNode(label));
      options.append(wrap);
    }
    clear.disabled = model.get("disabled");
    sync();
  }
  clear.addEventListener("click", () => { model.set("value", null); model.save_changes(); });
  model.on("change:question", draw);
  model.on("change:options", draw);
  model.on("change:clear_label", draw);
  model.on("change:disabled", draw);
  model.on("change:value", sync);
  draw();
}
export default { render };
"""

_CSS = r"""
.wb-item { border: 1px solid #c5ccd3; border-radius: 6px; margin: 0.3em 0; padding: 0.3em 0.8em 0.5em; }
.wb-item.wb-answered { border-color: #5a6b7d; }
.wb-item legend { font-weight: 600; padding: 0 0.3em; }
.wb-item-options { display: flex; flex-wrap: wrap; gap: 0.4em 0.6em; }
.wb-item-options label { display: inline-flex; align-items: center; gap: 0.35em; padding: 0.35em 0.7em;
  border: 1px solid #c5ccd3; border-radius: 4px; cursor: pointer; min-height: 32px; }
.wb-item-options label:has(input:checked) { background: #dde8f6; border-color: #1f4e9c; }
.wb-item-options input { width: 1.1em; height: 1.1em; margin: 0; }
.wb-item-clear { margin-top: 0.3em; background: none; border: none; color: #1f4e9c; text-decoration: underline;
  cursor: pointer; font-size: 0.9em; padding: 0.2em; }
.wb-item :focus-visible { outline: 3px solid #1f4e9c; outline-offset: 2px; }
"""


class ItemQuestion(anywidget.AnyWidget):
    """One question with its answers; ``value`` is the chosen answer's code or None (unanswered).

    Examples
    --------
    >>> q = ItemQuestion(question="1. Little interest", options=[("Not at all", 0), ("Several days", 1)])
    >>> q.value is None
    True
    >>> q.value = 1
    >>> q.value = 7
    Traceback (most recent call last):
    ...
    traitlets.traitlets.TraitError: 7 is not one of the answers of '1. Little interest': [0, 1]
    """

    _esm = _ESM
    _css = _CSS
    question = traitlets.Unicode("").tag(sync=True)
    options = traitlets.List(traitlets.Tuple(traitlets.Unicode(), traitlets.Int())).tag(sync=True)
    value = traitlets.Int(None, allow_none=True).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    clear_label = traitlets.Unicode("Clear").tag(sync=True)

    @traitlets.validate("value")
    def _valid_value(self, proposal):
        value = proposal["value"]
        allowed = [v for _, v in self.options]
        if value is not None and value not in allowed:
            raise traitlets.TraitError(f"{value!r} is not one of the answers of {self.question!r}: {allowed}")
        return value
