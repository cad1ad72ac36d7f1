/**
 * A small vocabulary for the structural OpenAPI v3 schemas of Grove's CRDs.
 *
 * The CRD schemas are the contract (DESIGN §2). They are written once, here and in `crds.ts`, and
 * both `crds/*.yaml` and `types.gen.ts` are generated from them (`npm run generate`), so the
 * TypeScript types cannot drift from what the API server validates.
 *
 * @module
 */

/** A CEL rule evaluated by the API server (`x-kubernetes-validations`). */
export interface CelRule {
  rule: string;
  message: string;
  /** Rule references `oldSelf`: only evaluated on update. */
  optionalOldSelf?: boolean;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
}

/** The subset of structural OpenAPI v3 that Grove's CRDs use. */
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  /** Names a nested object: the generator emits it as its own exported interface. */
  title?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  propertyNames?: Schema;
  const?: unknown;
  items?: Schema;
  anyOf?: Schema[];
  enum?: readonly string[];
  default?: unknown;
  format?: 'date-time' | 'int64' | 'int32' | 'uri';
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  /** Manifest schemas only: what a `pattern` means, for error messages ("a duration such as 72h"). */
  'x-error'?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
}

type Extra = Omit<Schema, 'type' | 'properties' | 'required' | 'items'>;

export function str(description: string, extra: Extra = {}): Schema {
  return { type: 'string', description, ...extra };
}

export function int(description: string, extra: Extra = {}): Schema {
  return { type: 'integer', format: 'int64', description, ...extra };
}

export function bool(description: string, extra: Extra = {}): Schema {
  return { type: 'boolean', description, ...extra };
}

export function oneOf(values: readonly string[], description: string, extra: Extra = {}): Schema {
  return { type: 'string', enum: values, description, ...extra };
}

export function time(description: string): Schema {
  return { type: 'string', format: 'date-time', description };
}

/**
 * An object schema. Property names ending in `?` are optional; all others are required.
 */
export function obj(description: string, props: Record<string, Schema>, extra: Extra = {}): Schema {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const [key, schema] of Object.entries(props)) {
    if (key.endsWith('?')) properties[key.slice(0, -1)] = schema;
    else {
      properties[key] = schema;
      required.push(key);
    }
  }
  return { type: 'object', description, properties, ...(required.length ? { required } : {}), ...extra };
}

export function list(description: string, items: Schema, extra: Extra = {}): Schema {
  return { type: 'array', description, items, ...extra };
}

export function map(description: string, values: Schema, extra: Extra = {}): Schema {
  return { type: 'object', description, additionalProperties: values, ...extra };
}

/** A Kubernetes resource quantity such as `250m` or `1Gi`. */
export function quantity(description: string): Schema {
  return {
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
    description,
    pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
  };
}

/** A CEL rule that makes a field immutable once set. */
export function immutable(field: string): CelRule {
  return { rule: 'self == oldSelf', message: `${field} is immutable` };
}
