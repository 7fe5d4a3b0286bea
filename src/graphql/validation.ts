import { validateOrReject, type ValidatorOptions } from 'class-validator';
import { ArgumentValidationError, type ValidatorFn } from 'type-graphql';

/** class-validator's options for every input, as type-graphql applies them (see buildHooklineSchema). */
export const VALIDATOR_OPTIONS: ValidatorOptions = {
  forbidUnknownValues: false,
  validationError: { target: false, value: false },
};

/**
 * An argument's validation for a hot mutation: an input that `plainlyValid`
 * accepts passes without class-validator, and any other is checked by
 * class-validator exactly as type-graphql would, so that a refused input
 * gets the same field errors. `plainlyValid` must accept only inputs that
 * class-validator accepts. Building and running class-validator's checks
 * was about a twentieth of the API's work per publish.
 */
export function validateUnlessPlainlyValid<T extends object>(plainlyValid: (input: T) => boolean): ValidatorFn {
  return async (value) => {
    if (value === null || typeof value !== 'object' || plainlyValid(value as T)) return;
    try {
      // type-graphql's own defaults: a missing optional property is not an error.
      await validateOrReject(value, { ...VALIDATOR_OPTIONS, skipMissingProperties: true });
    } catch (errors) {
      throw new ArgumentValidationError(errors as ConstructorParameters<typeof ArgumentValidationError>[0]);
    }
  };
}

/** Printable ASCII: its length is the length that class-validator's Length counts. */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;

/** A string whose length is within [min, max] by class-validator's count too. */
export function plainLength(value: unknown, min: number, max: number): boolean {
  return typeof value === 'string' && value.length >= min && value.length <= max && PLAIN_TEXT.test(value);
}
