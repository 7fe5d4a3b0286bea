import type { ApolloServerPlugin } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  Kind,
  getNamedType,
  isListType,
  isNonNullType,
  type DocumentNode,
  type GraphQLOutputType,
  type GraphQLSchema,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
  visit,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { InputError } from '../errors.js';

/**
 * What one GraphQL request may ask for, checked before anything runs. The
 * depth leaves room for the standard introspection query (the IDE's), whose
 * type references nest nine levels deep.
 */
export const QUERY_LIMITS = {
  depth: 15,
  aliases: 15,
  directives: 20,
  tokens: 5_000,
  cost: 20_000,
} as const;

/** A mutation field is a write, a transaction and the deliveries it queues: it costs as much as this many fields read. */
const MUTATION_FIELD_COST = 10;
/** The argument that says how many items a list returns: the cost multiplies by it. */
const PAGE_SIZE_ARGUMENT = 'first';
/** The size assumed for a list without `first` (attempts, subscriptions, catalog entries). */
const ASSUMED_LIST_SIZE = 10;

/** Armor reports with a "Syntax Error: " prefix; these are validation errors, so say so plainly. */
function report(context: ValidationContext | null, error: GraphQLError): void {
  context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')));
}

/** Depth, alias and directive limits as validation rules: refused with GRAPHQL_VALIDATION_FAILED. */
export function queryLimitRules(): ValidationRule[] {
  const callbacks = { propagateOnRejection: false, onReject: [report], exposeLimits: true };
  return [
    maxDepthRule({ n: QUERY_LIMITS.depth, ignoreIntrospection: false, flattenFragments: true, ...callbacks }),
    maxAliasesRule({ n: QUERY_LIMITS.aliases, ...callbacks }),
    maxDirectivesRule({ n: QUERY_LIMITS.directives, ...callbacks }),
  ];
}

/** Parser options: graphql-js stops reading a document at the token limit, so a huge query costs no more than that. */
export const parseOptions = { maxTokens: QUERY_LIMITS.tokens };

/** graphql-js's message when it stops at maxTokens; the error formatter answers it as the token limit. */
export function isTokenLimitError(message: string): boolean {
  return /^Syntax Error: Document contains more that \d+ tokens\. Parsing aborted\.$/.test(message);
}

export function tokenLimitMessage(): string {
  return `Token limit of ${QUERY_LIMITS.tokens} exceeded.`;
}

function isList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

/**
 * The cost of a field: 1 (10 for a mutation, times the inputs of a batch),
 * plus its selection times the number of items it returns. A connection
 * returns `first` items and its `nodes` are those; another list is assumed
 * to hold ASSUMED_LIST_SIZE. Nesting therefore multiplies: three
 * `deliveries(first: 500)` inside each other cost over 500³. Introspection
 * is free.
 */
function costEstimator(schema: GraphQLSchema): ComplexityEstimator {
  const mutationType = schema.getMutationType();
  return ({ type, field, args, childComplexity }) => {
    // Introspection reads the schema in memory, and graphql-js's own rule bounds how deep it may nest.
    if (field.name.startsWith('__') || type.name.startsWith('__')) return childComplexity;
    let own = 1;
    if (type === mutationType) {
      const batch = Object.values(args).find((value): value is unknown[] => Array.isArray(value));
      own = MUTATION_FIELD_COST * Math.max(1, batch?.length ?? 1);
    }
    const first = args[PAGE_SIZE_ARGUMENT];
    if (typeof first === 'number' && first > 0) return own + first * childComplexity;
    const itemsCountedByParent = getNamedType(type).name.endsWith('Connection') && field.name === 'nodes';
    if (isList(field.type) && !itemsCountedByParent) return own + ASSUMED_LIST_SIZE * childComplexity;
    return own + childComplexity;
  };
}

/** The cost of an operation of the document (throws on invalid variables). */
export function queryCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>, operationName?: string): number {
  return getComplexity({ schema, query: document, variables, operationName, estimators: [costEstimator(schema)] });
}

/**
 * Whether the cost of the document's operations can change with its
 * variables, as costEstimator and getComplexity read them: through a
 * directive's arguments (@include, @skip), a `first` argument, or a list
 * variable, whose length a mutation multiplies by. A document with none of
 * these costs the same whatever its variables.
 */
function costDependsOnVariables(document: DocumentNode): boolean {
  let depends = false;
  visit(document, {
    VariableDefinition(definition) {
      const type = definition.type.kind === Kind.NON_NULL_TYPE ? definition.type.type : definition.type;
      if (type.kind === Kind.LIST_TYPE) depends = true;
    },
    Directive(directive) {
      if (directive.arguments?.some((argument) => containsVariable(argument.value))) depends = true;
    },
    Argument(argument) {
      if (argument.name.value === PAGE_SIZE_ARGUMENT && containsVariable(argument.value)) depends = true;
    },
  });
  return depends;
}

function containsVariable(value: ValueNode): boolean {
  if (value.kind === Kind.VARIABLE) return true;
  if (value.kind === Kind.LIST) return value.values.some(containsVariable);
  if (value.kind === Kind.OBJECT) return value.fields.some((field) => containsVariable(field.value));
  return false;
}

/** The arguments of a document that hold a NUL character in a string literal. */
function argumentsWithNul(document: DocumentNode): string[] {
  const fields: string[] = [];
  visit(document, {
    Argument(argument) {
      visit(argument.value, {
        StringValue(value) {
          if (value.value.includes('\0')) fields.push(argument.name.value);
        },
      });
    },
  });
  return fields;
}

/**
 * What the limits learn from a document alone. Apollo keeps the parsed and
 * validated documents of the queries it has seen and hands the same
 * DocumentNode to every request of that query, so this is worked out once
 * per query rather than per request: a publishing client sends the same
 * mutation again and again, and walking it (twice) was a tenth of the API's
 * own work per publish.
 */
interface DocumentFacts {
  argumentsWithNul: string[];
  costDependsOnVariables: boolean;
  /** Operations (by name, '' for none) whose cost does not depend on variables and is within the limit. */
  withinCost: Set<string>;
}

const documentFacts = new WeakMap<DocumentNode, DocumentFacts>();

function factsOf(document: DocumentNode): DocumentFacts {
  let facts = documentFacts.get(document);
  if (!facts) {
    facts = { argumentsWithNul: argumentsWithNul(document), costDependsOnVariables: costDependsOnVariables(document), withinCost: new Set() };
    documentFacts.set(document, facts);
  }
  return facts;
}

/**
 * Refuses, before it executes, an operation of a kind the schema has no
 * root for (subscriptions) and one whose cost is over QUERY_LIMITS.cost once
 * its variables are known. Invalid variables are left to execution, which
 * refuses them with BAD_USER_INPUT before running anything.
 */
export function operationLimitsPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, operation, operationName }) {
          if (!operation) {
            const message = operationName
              ? `The document has no operation named ${operationName}.`
              : 'The document has several operations: name one in operationName.';
            throw new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE', http: { status: 400 } } });
          }
          if (!schema.getRootType(operation.operation)) throw overLimit(`This API has no ${operation.operation} operations.`);
          const facts = factsOf(document);
          const nul = fieldsWithNul(facts.argumentsWithNul, request.variables ?? {});
          if (nul.length) {
            const error = new InputError(nul.map((field) => ({ field, message: 'must not contain the NUL character (\\u0000)' })));
            throw new GraphQLError(error.message, { originalError: error, extensions: { code: error.code, http: { status: 400 } } });
          }
          // Only costs within the limit are kept: a refused document is costed again, with its variables, each time.
          if (facts.withinCost.has(operationName ?? '')) return;
          let cost: number;
          try {
            cost = queryCost(schema, document, request.variables ?? {}, operationName ?? undefined);
          } catch (error) {
            if (error instanceof GraphQLError && /maximum allowed number of nodes/.test(error.message)) throw overLimit('Query has too many fields.');
            return;
          }
          if (cost > QUERY_LIMITS.cost) {
            throw overLimit(`Query cost limit of ${QUERY_LIMITS.cost} exceeded, found ${cost}. Ask for fewer items with first, or nest fewer lists.`);
          }
          if (!facts.costDependsOnVariables) facts.withinCost.add(operationName ?? '');
        },
      };
    },
  };
}

/**
 * Arguments and variables holding a NUL character, which PostgreSQL cannot
 * store in text or jsonb: refused up front, naming them, rather than failing
 * in the database.
 */
function fieldsWithNul(inDocument: readonly string[], variables: Record<string, unknown>): string[] {
  const fields = [...inDocument];
  const walk = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      if (value.includes('\0')) fields.push(path);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}.${i}`));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (key.includes('\0')) fields.push(path);
        walk(item, `${path}.${key}`);
      }
    }
  };
  for (const [name, value] of Object.entries(variables)) walk(value, name);
  return [...new Set(fields)];
}

function overLimit(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } });
}
