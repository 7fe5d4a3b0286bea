import type { MigrationInterface, QueryRunner } from 'typeorm';
import { isSealedHeaderValue, sealHeaders } from '../src/secrets/crypto.js';
import type { Keyring } from '../src/secrets/keyring.js';

/**
 * Custom header values are sealed at rest like signing secrets: this seals
 * the values stored before, under the current master key, which
 * runMigrations hands over. And a table of installation facts, which
 * records that an operator token was minted (so that revoking it never
 * mints another on the next start); an installation that has operator keys
 * already has minted one.
 */
export class SealedHeadersAndSettings1795000000030 implements MigrationInterface {
  name = 'SealedHeadersAndSettings1795000000030';
  /** Set by runMigrations before the migration runs. */
  masterKey: Keyring | undefined = undefined;

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "hookline_settings" ("name" text NOT NULL, "value" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_hookline_settings_name" PRIMARY KEY ("name"))`,
    );
    await queryRunner.query(
      `INSERT INTO "hookline_settings" ("name", "value")
       SELECT 'operator_token_minted', 'before settings were recorded' WHERE EXISTS (SELECT 1 FROM "api_keys" WHERE "role" = 'OPERATOR')`,
    );
    const rows = (await queryRunner.query(`SELECT "id", "headers" FROM "webhook_subscriptions" WHERE "headers" IS NOT NULL`)) as Array<{
      id: string;
      headers: Record<string, string>;
    }>;
    const plain = rows.filter((row) => Object.values(row.headers).some((value) => !isSealedHeaderValue(value)));
    if (plain.length === 0) return;
    if (!this.masterKey) throw new Error('sealing stored header values needs the master key');
    for (const row of plain) {
      await queryRunner.query(`UPDATE "webhook_subscriptions" SET "headers" = $2::jsonb WHERE "id" = $1`, [
        row.id,
        JSON.stringify(sealHeaders(this.masterKey, row.id, row.headers)),
      ]);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Sealed header values stay sealed: opening them here would need the key, and they are no less valid.
    await queryRunner.query(`DROP TABLE "hookline_settings"`);
  }
}
