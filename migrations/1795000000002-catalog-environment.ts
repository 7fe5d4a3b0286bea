import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An account's own channels and event types belong to the environment they
 * were defined in (docs/api.md, Environments: nothing of one environment is changeable with
 * the other's token), so that a schema tried out in STAGING cannot change
 * what PRODUCTION accepts. Built-in rows keep no environment. No account
 * rows exist before this migration: defineEventType arrives with it.
 */
export class CatalogEnvironment1795000000002 implements MigrationInterface {
  name = 'CatalogEnvironment1795000000002';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."event_channels_account_name_key"`);
    await queryRunner.query(`DROP INDEX "public"."event_types_account_name_key"`);
    await queryRunner.query(`ALTER TABLE "event_channels" ADD "environment" text`);
    await queryRunner.query(`ALTER TABLE "event_types" ADD "environment" text`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "event_channels_account_name_key" ON "event_channels" ("account_id", "environment", "name") WHERE account_id IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "event_types_account_name_key" ON "event_types" ("account_id", "environment", "name") WHERE account_id IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // One row per account and name must remain for the old unique indexes:
    // where both environments defined a name, the STAGING row goes.
    for (const table of ['event_types', 'event_channels']) {
      await queryRunner.query(
        `DELETE FROM "${table}" s WHERE s.account_id IS NOT NULL AND s.environment = 'STAGING'
         AND EXISTS (SELECT 1 FROM "${table}" p WHERE p.account_id = s.account_id AND p.name = s.name AND p.environment = 'PRODUCTION')`,
      );
    }
    await queryRunner.query(`DROP INDEX "public"."event_types_account_name_key"`);
    await queryRunner.query(`DROP INDEX "public"."event_channels_account_name_key"`);
    await queryRunner.query(`ALTER TABLE "event_types" DROP COLUMN "environment"`);
    await queryRunner.query(`ALTER TABLE "event_channels" DROP COLUMN "environment"`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "event_types_account_name_key" ON "event_types" ("account_id", "name") WHERE account_id IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "event_channels_account_name_key" ON "event_channels" ("account_id", "name") WHERE account_id IS NOT NULL`,
    );
  }
}
