import {
  coerceInputValue,
  getNamedType,
  isInputType,
  getNullableType,
  GraphQLError,
  GraphQLString,
  isInputObjectType,
  isListType,
  Kind,
  TypeInfo,
  typeFromAST,
  validate,
  valueFromAST,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { MAX_TEXT_LENGTH } from '../arguments.js';
import { ErrorCode } from '../errors.js';
import { costRule } from './limits.js';

/**
 * Every string and list argument of an operation has a bound, on both transports, checked before
 * anything runs: a string holds no NUL character and no lone surrogate (UTF-16 halves that are
 * not Unicode: a database would store them changed or refuse them) and is at most its bound
 * (255 unless {@link STRING_BOUNDS} says otherwise); a list holds at most its bound (100 unless
 * {@link LIST_BOUNDS} says otherwise). Input objects are walked field by field, lists entry by
 * entry. A refusal is BAD_USER_INPUT naming the argument's path (`filter.search`; the fields of a
 * mutation's `input` by their own names, `networkOverrides[0].sourceNetworkName`) and what is
 * wrong — never the value itself.
 */

/** The default bounds. */
export const DEFAULT_STRING_BOUND = MAX_TEXT_LENGTH;
export const DEFAULT_LIST_BOUND = 100;

/** Bounds that differ from the default, by schema coordinate (`Type.field` of an input object, or `Parent.field(arg)`). */
export const STRING_BOUNDS: Readonly<Record<string, number>> = {
  'RecoveryPlanInput.name': 100,
  'RecoveryPlanInput.description': 1000,
  'StartPlanExecutionInput.idempotencyKey': 100,
  'StartFailoverInput.idempotencyKey': 100,
};
export const LIST_BOUNDS: Readonly<Record<string, number>> = {
  // A page of VMs by id: as many as a page holds (MAX_PAGE_SIZE is at most this).
  'VirtualMachineFilter.vmIds': 10_000,
  'FailoverJobFilter.statuses': 32,
  'StartFailoverInput.networkOverrides': 64,
  // A plan: at most 20 waves, 2,000 VMs in all (the service counts the whole).
  'RecoveryPlanInput.waves': 20,
  'PlanWaveInput.vmIds': 2_000,
};

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with one string, if anything (never quoting it). */
function stringProblem(value: string, bound: number): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  const surrogate = LONE_SURROGATE.exec(value);
  if (surrogate) return `must be valid Unicode (a lone surrogate at position ${surrogate.index})`;
  if (value.length > bound) return `must be at most ${bound} characters (got ${value.length})`;
  return undefined;
}

const refusal = (path: string, problem: string) =>
  new GraphQLError(`${path} ${problem}`, { extensions: { code: ErrorCode.BAD_USER_INPUT, field: path, http: { status: 400 } } });

/** Walks one coerced value against its input type; the first problem found is returned. */
function checkValue(value: unknown, type: GraphQLInputType, path: string, coordinate: string): GraphQLError | undefined {
  if (value === null || value === undefined) return undefined;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const items = Array.isArray(value) ? value : [value];
    const bound = LIST_BOUNDS[coordinate] ?? DEFAULT_LIST_BOUND;
    if (items.length > bound) return refusal(path, `may hold at most ${bound} entries (got ${items.length})`);
    for (const [i, item] of items.entries()) {
      const problem = checkValue(item, nullable.ofType as GraphQLInputType, `${path}[${i}]`, coordinate);
      if (problem) return problem;
    }
    return undefined;
  }
  if (isInputObjectType(nullable)) {
    const fields = nullable.getFields();
    for (const [name, field] of Object.entries(fields)) {
      const problem = checkValue((value as Record<string, unknown>)[name], field.type, path ? `${path}.${name}` : name, `${nullable.name}.${name}`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'string' && getNamedType(nullable).name !== 'Boolean') {
    const problem = stringProblem(value, STRING_BOUNDS[coordinate] ?? DEFAULT_STRING_BOUND);
    if (problem) return refusal(path, problem);
  }
  return undefined;
}

/** The operation's variables as graphql coerces them; undefined when one does not coerce (graphql reports it). */
function coerceVariables(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  raw: Readonly<Record<string, unknown>>,
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const type = typeFromAST(schema, definition.type);
    if (!type || !isInputType(type)) return undefined;
    try {
      if (Object.hasOwn(raw, name)) out[name] = coerceInputValue(raw[name], type);
      else if (definition.defaultValue) out[name] = valueFromAST(definition.defaultValue, type);
    } catch {
      return undefined;
    }
  }
  return out;
}

/**
 * The argument refusals of one operation of a valid document (at most one: the first found).
 * Variables that do not coerce are left to graphql's own error.
 */
export function checkArguments(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  /** The largest `first` the resolvers accept: a larger one is their BAD_USER_INPUT, so the cost counts at most this. */
  maxPageSize: number = Number.MAX_SAFE_INTEGER,
): GraphQLError[] {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation) return [];
  const coerced = coerceVariables(schema, operation, variables ?? {});
  if (!coerced) return [];
  const typeInfo = new TypeInfo(schema);
  let found: GraphQLError | undefined;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument(node) {
        if (found) return;
        const argument = typeInfo.getArgument();
        const parent = typeInfo.getParentType();
        const field = typeInfo.getFieldDef();
        if (!argument || !parent || !field) return;
        const value = valueFromAST(node.value, argument.type, coerced);
        // A mutation's `input` object is the mutation's arguments: its fields are named as such (as the services name them).
        const path = argument.name === 'input' && isInputObjectType(getNullableType(argument.type)) ? '' : node.name.value;
        found = checkValue(value, argument.type, path, `${parent.name}.${field.name}(${argument.name})`);
      },
    }),
  );
  if (found) return [found];
  // The cost again, with the variables' values where the operation passes them to arguments
  // (`first: $n` costs as `first: 500`): validation alone sees only the literals.
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  let substituted = false;
  const withValues = visit({ kind: Kind.DOCUMENT, definitions: [operation, ...fragments] } as DocumentNode, {
    Argument(node) {
      if (node.value.kind !== Kind.VARIABLE) return undefined;
      const value = coerced[node.value.name.value];
      if (typeof value !== 'number' || !Number.isInteger(value)) return undefined;
      substituted = true;
      return { ...node, value: { kind: Kind.INT, value: String(Math.min(value, maxPageSize)) } };
    },
  });
  // Without a substituted value the validation's own cost rule has already said all there is.
  const [tooCostly] = substituted ? validate(schema, withValues, [costRule()]) : [];
  if (tooCostly) return [new GraphQLError(tooCostly.message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } })];
  // Variables no argument uses are held to the same rules (named as variables).
  for (const [name, raw] of Object.entries(variables ?? {})) {
    const problem = typeof raw === 'string' ? checkValue(raw, GraphQLString, `$${name}`, '') : undefined;
    if (problem) return [problem];
  }
  return [];
}
