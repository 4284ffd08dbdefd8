/**
 * Request validation. Bodies are validated strictly: no type coercion ("5" is not a
 * number) and no silent removal of unknown fields, so a client learns about a typo.
 * Path and query parameters arrive as text and are coerced to the schema's types.
 */
import { Ajv, type Options } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

const common: Options = { allErrors: false, useDefaults: false, removeAdditional: false, strict: false };
const strictAjv = new Ajv({ ...common, coerceTypes: false });
const coercingAjv = new Ajv({ ...common, coerceTypes: true });

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strictAjv : coercingAjv;
  return ajv.compile(schema);
};
