/** What one event, and one publishEvents call, may carry. */

export const MAX_EVENT_DATA_BYTES = 256 * 1024;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const MAX_ORDERING_KEY_LENGTH = 255;
export const MAX_BATCH_ITEMS = 1000;
/**
 * The data of all items of one publishEvents call together. ERP events are
 * a few KiB each, so 1,000 of them fit with room to spare; a single item
 * may still use its full 256 KiB as long as the batch stays under this.
 */
export const MAX_BATCH_DATA_BYTES = 8 * 1024 * 1024;
/**
 * The largest GraphQL request body the HTTP layer accepts: a full batch of
 * data plus its query text, keys and JSON punctuation. Between the data
 * limit and this, the call is refused with BAD_USER_INPUT naming `inputs`.
 */
export const MAX_REQUEST_BYTES = MAX_BATCH_DATA_BYTES + 1024 * 1024;
