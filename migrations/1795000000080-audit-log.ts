import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit log: entries, the head of each chain (account and environment)
 * and the checkpoints that verification starts from. Entries are only
 * inserted; retention deletes the oldest.
 */
export class AuditLog1795000000080 implements MigrationInterface {
  name = 'AuditLog1795000000080';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_log" ("id" uuid NOT NULL, "account_id" uuid NOT NULL, "environment" text NOT NULL, "seq" bigint NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "actor_kind" text NOT NULL, "actor_api_key_id" uuid, "actor_session_id" uuid, "actor_name" text, "action" text NOT NULL, "target_type" text NOT NULL, "target_id" text, "changes" jsonb, "key_id" text NOT NULL, "hash" text NOT NULL, CONSTRAINT "PK_07fefa57f7f5ab8fc3f52b3ed0b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "audit_log_chain_key" ON "audit_log" ("account_id", "environment", "seq")`);
    await queryRunner.query(`CREATE INDEX "audit_log_target_idx" ON "audit_log" ("account_id", "environment", "target_id", "seq")`);
    await queryRunner.query(`CREATE INDEX "audit_log_action_idx" ON "audit_log" ("account_id", "environment", "action", "seq")`);
    await queryRunner.query(
      `CREATE TABLE "audit_chain_heads" ("account_id" uuid NOT NULL, "environment" text NOT NULL, "seq" bigint NOT NULL, "hash" text NOT NULL, CONSTRAINT "PK_audit_chain_heads" PRIMARY KEY ("account_id", "environment"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "audit_checkpoints" ("account_id" uuid NOT NULL, "environment" text NOT NULL, "seq" bigint NOT NULL, "hash" text NOT NULL, "key_id" text NOT NULL, "mac" text NOT NULL, "swept_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_audit_checkpoints" PRIMARY KEY ("account_id", "environment", "seq"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_checkpoints"`);
    await queryRunner.query(`DROP TABLE "audit_chain_heads"`);
    await queryRunner.query(`DROP TABLE "audit_log"`);
  }
}
