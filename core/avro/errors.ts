/** A datum or block that cannot be decoded. `pos` is relative to the buffer being decoded. */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Input that is not usable at all (not Avro, bad header, unsupported codec); names the file. */
export { InputError } from '../errors.js';
