import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A key's own request budget (null: the installation's default), and the
 * key-change notification widened to it, so that every API process's key
 * cache forgets a key whose budget changed.
 */
export class ApiKeyRateLimits1795000000070 implements MigrationInterface {
  name = 'ApiKeyRateLimits1795000000070';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "rate_limit_per_second" integer`);
    await queryRunner.query(`DROP TRIGGER "api_keys_notify_change" ON "api_keys"`);
    await queryRunner.query(`
      CREATE TRIGGER "api_keys_notify_change"
      AFTER UPDATE OF "revoked_at", "role", "environment", "account_id", "token_hash", "rate_limit_per_second" OR DELETE ON "api_keys"
      FOR EACH ROW EXECUTE FUNCTION "hookline_notify_api_key_change"()`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "api_keys_notify_change" ON "api_keys"`);
    await queryRunner.query(`
      CREATE TRIGGER "api_keys_notify_change"
      AFTER UPDATE OF "revoked_at", "role", "environment", "account_id", "token_hash" OR DELETE ON "api_keys"
      FOR EACH ROW EXECUTE FUNCTION "hookline_notify_api_key_change"()`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "rate_limit_per_second"`);
  }
}
