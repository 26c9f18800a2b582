// The scenario form, generated from openapi.yaml's Scenario schema (see scenario-fields.ts for
// what is added by hand). Values are not checked here: the service validates the request and
// names the offending field, and the page puts its message next to that field.
import type { ModelSummary, Scenario } from "./api.js";
import { h } from "./dom.js";
import { shortId } from "./format.js";
import { fieldUi, humanize } from "./scenario-fields.js";
import { resolve, scenarioSchema, typeOf, type JsonSchema } from "./schema.js";

type Control = HTMLInputElement | HTMLSelectElement;

interface Field {
  path: string;
  kind: "enum" | "number" | "boolean" | "text" | "choice";
  control: Control;
  error: HTMLElement;
}

export interface ScenarioForm {
  readonly element: HTMLFormElement;
  /** Every field path, in form order ("norm", …, "sizeLimit.maxBytes", …). */
  readonly paths: string[];
  read(): Scenario;
  fill(s: Scenario): void;
  setModels(models: readonly ModelSummary[]): void;
  /** Shows the service's message at the field it names (or above the form) and focuses it. */
  showError(field: string | undefined, message: string): void;
  clearErrors(): void;
}

const idOf = (path: string) => `f-${path.replace(/\./g, "-")}`;

function describe(path: string, s: JsonSchema): string | undefined {
  const ui = fieldUi(path);
  if (ui.help) return ui.help;
  // A field the list does not describe yet: the schema's own description, first sentence.
  const d = s.description?.trim();
  return d ? d.split(/(?<=\.)\s/)[0] : undefined;
}

export function buildScenarioForm(form: HTMLFormElement, submitLabel = "Recommend"): ScenarioForm {
  const fields = new Map<string, Field>();
  const formError = h("p", { class: "form-error", id: "form-error", role: "alert", hidden: true });
  let pending: Scenario | null = null;

  const fieldFor = (path: string, raw: JsonSchema, required: boolean): HTMLElement => {
    const s = resolve(raw);
    const ui = fieldUi(path);
    const id = idOf(path);
    const help = describe(path, s);
    const helpId = help ? `${id}-help` : undefined;
    const errorId = `${id}-error`;
    const describedBy = [helpId, errorId].filter(Boolean).join(" ");
    const type = typeOf(s);
    let control: Control;
    let kind: Field["kind"];
    if (ui.choices) {
      kind = "choice";
      control = h("select", { id, name: path, "aria-describedby": describedBy }, h("option", { value: "" }, "any"));
    } else if (s.enum) {
      kind = "enum";
      control = h("select", { id, name: path, "aria-describedby": describedBy, required }, required ? null : h("option", { value: "" }, "any"), s.enum.map((v) => h("option", { value: v }, v)));
    } else if (type === "boolean") {
      kind = "boolean";
      control = h("input", { id, name: path, type: "checkbox", "aria-describedby": describedBy });
    } else if (type === "number" || type === "integer") {
      kind = "number";
      control = h("input", {
        id,
        name: path,
        type: "number",
        inputmode: "decimal",
        step: type === "integer" ? "1" : "any",
        min: s.minimum ?? s.exclusiveMinimum,
        max: s.maximum,
        required,
        "aria-describedby": describedBy,
      });
    } else {
      kind = "text";
      control = h("input", { id, name: path, type: "text", required, "aria-describedby": describedBy, autocomplete: "off" });
    }
    const error = h("p", { class: "field-error", id: errorId, hidden: true });
    fields.set(path, { path, kind, control, error });
    const label = h("label", { for: id }, ui.label ?? humanize(path.split(".").at(-1)!), required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null);
    const helpEl = help ? h("p", { class: "help", id: helpId }, help) : null;
    return kind === "boolean" ? h("div", { class: "field check" }, control, label, helpEl, error) : h("div", { class: "field" }, label, control, helpEl, error);
  };

  const groupFor = (path: string, s: JsonSchema, required: readonly string[]): HTMLElement[] =>
    Object.entries(s.properties ?? {}).map(([name, child]) => {
      const p = path ? `${path}.${name}` : name;
      const r = resolve(child);
      if (typeOf(r) === "object" && r.properties) {
        const ui = fieldUi(p);
        return h("fieldset", { class: "group", id: idOf(p) }, h("legend", {}, ui.label ?? humanize(name)), groupFor(p, r, r.required ?? []));
      }
      return fieldFor(p, child, required.includes(name));
    });

  const schema = scenarioSchema();
  form.replaceChildren(
    formError,
    h("div", { class: "fields" }, groupFor("", schema, schema.required ?? [])),
    h("p", { class: "required-note" }, h("span", { "aria-hidden": "true" }, "* "), "required"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, submitLabel)),
  );

  const read = (): Scenario => {
    const out: Record<string, unknown> = {};
    for (const f of fields.values()) {
      let value: unknown;
      if (f.kind === "boolean") value = (f.control as HTMLInputElement).checked ? true : undefined;
      else if (f.control.value.trim() === "") value = undefined;
      else if (f.kind === "number") value = Number(f.control.value);
      else value = f.control.value.trim();
      if (value === undefined) continue;
      const parts = f.path.split(".");
      let node = out;
      for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
      node[parts.at(-1)!] = value;
    }
    return out as unknown as Scenario;
  };

  const fill = (s: Scenario): void => {
    pending = s;
    for (const f of fields.values()) {
      let value: unknown = s;
      for (const part of f.path.split(".")) value = value && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
      if (f.kind === "boolean") (f.control as HTMLInputElement).checked = value === true;
      else {
        const text = value === undefined || value === null ? "" : String(value);
        if (f.control instanceof HTMLSelectElement && text !== "" && ![...f.control.options].some((o) => o.value === text)) {
          // A choice not loaded yet (models arrive later): keep it selectable.
          f.control.append(h("option", { value: text }, text));
        }
        f.control.value = text;
      }
    }
  };

  const setModels = (models: readonly ModelSummary[]): void => {
    for (const f of fields.values()) {
      const source = f.kind === "choice" ? fieldUi(f.path).choices : undefined;
      if (!source) continue;
      const select = f.control as HTMLSelectElement;
      const options: HTMLOptionElement[] = [h("option", { value: "" }, source === "modelId" ? "any (the matrix's own models)" : "any")];
      if (source === "modelId") {
        for (const m of models) {
          const what = `${m.architecture} ${shortId(m.modelId)} (${m.dataset}${m.uploaded ? ", uploaded" : ""}${m.state === "not-measured" ? ", not measured yet" : ""})`;
          options.push(h("option", { value: m.modelId, disabled: m.state === "not-measured" }, what));
        }
      } else {
        for (const v of [...new Set(models.filter((m) => m.state === "measured" && !m.uploaded).map((m) => m[source]))].sort()) options.push(h("option", { value: v }, v));
      }
      select.replaceChildren(...options);
    }
    if (pending) fill(pending);
  };

  const clearErrors = (): void => {
    formError.hidden = true;
    formError.textContent = "";
    for (const f of fields.values()) {
      f.error.hidden = true;
      f.error.textContent = "";
      f.control.removeAttribute("aria-invalid");
    }
  };

  const showError = (field: string | undefined, message: string): void => {
    clearErrors();
    // "sizeLimit.maxBytes" or a parent ("sizeLimit": focus its first control).
    const f = field === undefined ? undefined : (fields.get(field) ?? [...fields.values()].find((x) => x.path.startsWith(`${field}.`)));
    if (f) {
      f.error.textContent = message;
      f.error.hidden = false;
      f.control.setAttribute("aria-invalid", "true");
      f.control.focus();
      return;
    }
    formError.textContent = message;
    formError.hidden = false;
  };

  return { element: form, paths: [...fields.keys()], read, fill, setModels, showError, clearErrors };
}
