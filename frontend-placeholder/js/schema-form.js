// A form for a tool's inputs, built from its JSON Schema (as pydantic writes it).
//
// strings, numbers and integers (with their bounds), booleans, enums (a select),
// defaults and required fields; a file (a UUID string described as an uploaded file's
// id, or a list of them) is a file picker whose files are uploaded first; anything else
// (objects, lists, free JSON) is a JSON text area. The browser does not validate
// (`novalidate`): the API does, and its 422 is shown next to each field.

const FILE_DESCRIPTION = "The id of a file uploaded with POST /api/v1/files.";

/**
 * Builds the fields into `container`; returns the form's model:
 * `read(upload)` -> the inputs object (files uploaded with `upload(file) -> id`),
 * `showErrors(byField)` -> the fields it could not place, `clearErrors()`.
 */
export function buildFields(container, schema) {
  container.replaceChildren();
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties ?? {}).map(([name, property]) =>
    makeField(name, describe(property, schema), required.has(name)),
  );
  for (const field of fields) container.append(field.element);
  return {
    async read(upload) {
      const inputs = {};
      for (const field of fields) {
        const value = await field.read(upload);
        if (value !== undefined) inputs[field.name] = value;
      }
      return inputs;
    },
    showErrors(byField) {
      const unplaced = [];
      for (const [name, message] of byField) {
        const field = fields.find((candidate) => candidate.name === name);
        if (field) field.setError(message);
        else unplaced.push(name === null ? message : `${name}: ${message}`);
      }
      fields.find((field) => field.hasError())?.focus();
      return unplaced;
    },
    clearErrors() {
      for (const field of fields) field.setError("");
    },
  };
}

/** A property with its $ref followed and an optional (`anyOf` with null) unwrapped. */
function describe(property, root) {
  let resolved = property;
  if (property.$ref) {
    const name = property.$ref.split("/").pop();
    resolved = { ...(root.$defs?.[name] ?? {}), ...property };
    delete resolved.$ref;
  }
  const branches = resolved.anyOf ?? [];
  const notNull = branches.filter((branch) => branch.type !== "null");
  if (branches.length && notNull.length === 1) {
    const { anyOf, ...outer } = resolved;
    resolved = { ...describe(notNull[0], root), ...outer };
  }
  return resolved;
}

function kindOf(property) {
  if (isFile(property)) return "file";
  if (property.type === "array" && property.items && isFile(property.items)) return "files";
  if (Array.isArray(property.enum)) return "enum";
  if (["string", "integer", "number", "boolean"].includes(property.type)) return property.type;
  return "json";
}

function isFile(property) {
  return property.type === "string" && property.format === "uuid"
    && property.description === FILE_DESCRIPTION;
}

let fieldCount = 0;

function makeField(name, property, required) {
  const kind = kindOf(property);
  const id = `input-${++fieldCount}`;
  const element = document.createElement("div");
  element.className = kind === "boolean" ? "field checkbox" : "field";

  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = property.title ?? name;
  if (required) {
    const mark = document.createElement("span");
    mark.className = "required";
    mark.textContent = " (required)";
    label.append(mark);
  }

  const control = makeControl(kind, property, required);
  control.id = id;
  control.name = name;
  if (required) control.setAttribute("aria-required", "true");

  const hint = document.createElement("p");
  hint.className = "hint";
  hint.id = `${id}-hint`;
  hint.textContent = hintOf(kind, property);
  const error = document.createElement("p");
  error.className = "error";
  error.id = `${id}-error`;
  control.setAttribute("aria-describedby", `${hint.id} ${error.id}`);

  if (kind === "boolean") element.append(control, label, hint, error);
  else element.append(label, control, hint, error);

  return {
    name,
    element,
    read: (upload) => readValue(kind, property, control, required, upload),
    focus: () => control.focus(),
    hasError: () => error.textContent !== "",
    setError(message) {
      error.textContent = message;
      if (message) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    },
  };
}

function makeControl(kind, property, required) {
  if (kind === "enum") {
    const select = document.createElement("select");
    if (!required && property.default === undefined) select.append(new Option("(none)", ""));
    property.enum.forEach((value, index) => {
      const option = new Option(String(value), String(index));
      option.selected = value === property.default;
      select.append(option);
    });
    return select;
  }
  if (kind === "json") {
    const area = document.createElement("textarea");
    area.rows = 3;
    area.spellcheck = false;
    if (property.default !== undefined && property.default !== null) {
      area.value = JSON.stringify(property.default);
    }
    return area;
  }
  const input = document.createElement("input");
  if (kind === "file" || kind === "files") {
    input.type = "file";
    input.multiple = kind === "files";
  } else if (kind === "boolean") {
    input.type = "checkbox";
    input.checked = property.default === true;
  } else if (kind === "integer" || kind === "number") {
    input.type = "number";
    input.step = kind === "integer" ? "1" : "any";
    if (property.minimum !== undefined) input.min = property.minimum;
    if (property.maximum !== undefined) input.max = property.maximum;
    if (property.default !== undefined && property.default !== null) input.value = property.default;
  } else {
    input.type = "text";
    if (property.maxLength !== undefined) input.maxLength = property.maxLength;
    if (typeof property.default === "string") input.value = property.default;
  }
  if (required) input.required = true;
  return input;
}

function hintOf(kind, property) {
  const parts = [];
  if (property.description && !isFile(property)) parts.push(property.description);
  if (kind === "file") parts.push("A file, uploaded when you submit.");
  if (kind === "files") parts.push("Files, uploaded when you submit.");
  if (kind === "json") parts.push("JSON (empty: none).");
  const bounds = [];
  if (property.minimum !== undefined) bounds.push(`at least ${property.minimum}`);
  if (property.exclusiveMinimum !== undefined) bounds.push(`more than ${property.exclusiveMinimum}`);
  if (property.maximum !== undefined) bounds.push(`at most ${property.maximum}`);
  if (property.exclusiveMaximum !== undefined) bounds.push(`less than ${property.exclusiveMaximum}`);
  if (bounds.length) parts.push(`${kind === "integer" ? "A whole number" : "A number"}, ${bounds.join(" and ")}.`);
  if (property.default !== undefined && property.default !== null && kind !== "json") {
    parts.push(`Default: ${property.default}.`);
  }
  return parts.join(" ");
}

/** The value to send, or undefined to leave the input out (the tool's default applies). */
async function readValue(kind, property, control, required, upload) {
  switch (kind) {
    case "boolean":
      return control.checked;
    case "enum":
      return control.value === "" ? undefined : property.enum[Number(control.value)];
    case "file":
      return control.files.length ? upload(control.files[0], control.name) : undefined;
    case "files": {
      if (!control.files.length) return undefined;
      const ids = [];
      for (const file of control.files) ids.push(await upload(file, control.name));
      return ids;
    }
    case "integer":
    case "number":
      if (control.value === "") return undefined;
      // Not a number (the browser's own check is off): sent as typed, the API names it.
      return Number.isNaN(Number(control.value)) ? control.value : Number(control.value);
    case "json":
      if (control.value.trim() === "") return undefined;
      try {
        return JSON.parse(control.value);
      } catch {
        throw new FieldProblem(control.name, "not valid JSON");
      }
    default:
      return control.value === "" && !required ? undefined : control.value;
  }
}

/** A field's value could not be read or sent (bad JSON, an upload refused). */
export class FieldProblem extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}
