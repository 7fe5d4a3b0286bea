import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Portal links (single-use, by id) and the console sessions they open. */
export class PortalSessions1795000000050 implements MigrationInterface {
  name = 'PortalSessions1795000000050';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "portal_links" ("id" uuid NOT NULL, "account_id" uuid NOT NULL, "environment" text NOT NULL, "read_only" boolean NOT NULL, "api_key_id" uuid NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_b1bb82b3e588a5030649b3dc95b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "portal_links_account_idx" ON "portal_links" ("account_id", "environment", "created_at")`);
    await queryRunner.query(
      `CREATE TABLE "console_sessions" ("id" uuid NOT NULL, "token_hash" bytea NOT NULL, "portal_link_id" uuid NOT NULL, "account_id" uuid NOT NULL, "environment" text NOT NULL, "role" text NOT NULL, "api_key_id" uuid NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_15fe3f1740801e7a0581dea8d49" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "console_sessions_token_hash_key" ON "console_sessions" ("token_hash")`);
    await queryRunner.query(
      `ALTER TABLE "portal_links" ADD CONSTRAINT "FK_67d6acb5aef96c034eb939b1e0b" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "portal_links" ADD CONSTRAINT "FK_a16135bd75bbda80aa824886973" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "console_sessions" ADD CONSTRAINT "FK_75d3ad6d968d8515c61e2d016b0" FOREIGN KEY ("portal_link_id") REFERENCES "portal_links"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "console_sessions" ADD CONSTRAINT "FK_4de0b3e20023a5e63a515926038" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "console_sessions" ADD CONSTRAINT "FK_12a52910c50ba4545cf58d8253f" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "console_sessions"`);
    await queryRunner.query(`DROP TABLE "portal_links"`);
  }
}
