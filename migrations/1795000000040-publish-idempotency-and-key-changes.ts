import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The hash of what an idempotency key was first used for, so that the same
 * key with another type or other data is refused rather than answered with
 * the first event; and a notification on every change to an API key that
 * affects authentication, sent from the changing transaction at its commit,
 * so that API processes can cache authenticated keys and drop them at once.
 */
export class PublishIdempotencyAndKeyChanges1795000000040 implements MigrationInterface {
  name = 'PublishIdempotencyAndKeyChanges1795000000040';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "events" ADD "idempotency_hash" text`);
    await queryRunner.query(`
      CREATE FUNCTION "hookline_notify_api_key_change"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('hookline_api_keys', OLD.id::text);
        RETURN NULL;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER "api_keys_notify_change"
      AFTER UPDATE OF "revoked_at", "role", "environment", "account_id", "token_hash" OR DELETE ON "api_keys"
      FOR EACH ROW EXECUTE FUNCTION "hookline_notify_api_key_change"()`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "api_keys_notify_change" ON "api_keys"`);
    await queryRunner.query(`DROP FUNCTION "hookline_notify_api_key_change"()`);
    await queryRunner.query(`ALTER TABLE "events" DROP COLUMN "idempotency_hash"`);
  }
}
