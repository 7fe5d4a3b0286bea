import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Accounts, API keys, the catalog, subscriptions with their secrets, events, deliveries and attempts. */
export class Initial1795000000000 implements MigrationInterface {
  name = 'Initial1795000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "accounts" ("id" uuid NOT NULL, "name" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_5a7a02c20412299d198e097a8fe" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE TABLE "api_keys" ("id" uuid NOT NULL, "account_id" uuid, "name" text NOT NULL, "role" text NOT NULL, "environment" text NOT NULL, "prefix" text NOT NULL, "token_hash" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "api_keys_token_hash_key" ON "api_keys" ("token_hash")`);
    await queryRunner.query(`CREATE INDEX "api_keys_account_idx" ON "api_keys" ("account_id", "created_at")`);
    await queryRunner.query(`CREATE TABLE "event_channels" ("id" uuid NOT NULL, "account_id" uuid, "name" text NOT NULL, "label" text NOT NULL, "exclusive" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a8552620216291895311020ecc7" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "event_channels_account_name_key" ON "event_channels" ("account_id", "name") WHERE account_id IS NOT NULL`);
    await queryRunner.query(`CREATE UNIQUE INDEX "event_channels_builtin_name_key" ON "event_channels" ("name") WHERE account_id IS NULL`);
    await queryRunner.query(`CREATE TABLE "event_types" ("id" uuid NOT NULL, "account_id" uuid, "name" text NOT NULL, "channel" text NOT NULL, "action" text NOT NULL, "description" text NOT NULL, "schema" jsonb, "example" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_ffe6b2d60596409fb08fb13830d" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "event_types_account_name_key" ON "event_types" ("account_id", "name") WHERE account_id IS NOT NULL`);
    await queryRunner.query(`CREATE UNIQUE INDEX "event_types_builtin_name_key" ON "event_types" ("name") WHERE account_id IS NULL`);
    await queryRunner.query(`CREATE TABLE "webhook_subscriptions" ("id" uuid NOT NULL, "account_id" uuid NOT NULL, "environment" text NOT NULL, "url" text NOT NULL, "description" text, "channels" text array NOT NULL, "events" text array NOT NULL DEFAULT '{}', "enabled" boolean NOT NULL DEFAULT true, "disabled_reason" text, "payload_format" text NOT NULL DEFAULT 'ENVELOPE', "retry_schedule" integer array NOT NULL, "headers" jsonb, "rate_limit_per_second" integer, "failing_since" TIMESTAMP WITH TIME ZONE, "deleted_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_bf631ae77d39849d599817fb6f4" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "webhook_subscriptions_scope_idx" ON "webhook_subscriptions" ("account_id", "environment", "created_at")`);
    await queryRunner.query(`CREATE TABLE "signing_secrets" ("id" uuid NOT NULL, "subscription_id" uuid NOT NULL, "ciphertext" bytea NOT NULL, "hint" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_73543f40c2553302781b72546fe" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "signing_secrets_subscription_idx" ON "signing_secrets" ("subscription_id", "created_at")`);
    await queryRunner.query(`CREATE TABLE "events" ("id" uuid NOT NULL, "account_id" uuid NOT NULL, "environment" text NOT NULL, "type" text NOT NULL, "data" jsonb NOT NULL, "idempotency_key" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_40731c7151fe4be3116e45ddf73" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "events_idempotency_key" ON "events" ("account_id", "environment", "idempotency_key") WHERE idempotency_key IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX "events_scope_idx" ON "events" ("account_id", "environment", "id")`);
    await queryRunner.query(`CREATE TABLE "deliveries" ("id" uuid NOT NULL, "account_id" uuid NOT NULL, "environment" text NOT NULL, "event_id" uuid NOT NULL, "subscription_id" uuid NOT NULL, "status" text NOT NULL DEFAULT 'PENDING', "attempt_count" integer NOT NULL DEFAULT '0', "next_attempt_at" TIMESTAMP WITH TIME ZONE, "last_attempt_at" TIMESTAMP WITH TIME ZONE, "current_job_id" uuid, "schedule_offset" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a6ef225c5c5f0974e503bfb731f" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "deliveries_event_subscription_key" ON "deliveries" ("event_id", "subscription_id")`);
    await queryRunner.query(`CREATE INDEX "deliveries_subscription_idx" ON "deliveries" ("subscription_id", "id")`);
    await queryRunner.query(`CREATE INDEX "deliveries_scope_idx" ON "deliveries" ("account_id", "environment", "id")`);
    await queryRunner.query(`CREATE TABLE "delivery_attempts" ("id" uuid NOT NULL, "delivery_id" uuid NOT NULL, "subscription_id" uuid NOT NULL, "number" integer NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "duration_ms" integer NOT NULL, "response_status" integer, "response_body" text, "error" text, "succeeded" boolean NOT NULL, CONSTRAINT "PK_41eba4eb5401d72860f7cd9a7ac" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "delivery_attempts_subscription_idx" ON "delivery_attempts" ("subscription_id", "started_at")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "delivery_attempts_delivery_number_key" ON "delivery_attempts" ("delivery_id", "number")`);
    await queryRunner.query(`ALTER TABLE "api_keys" ADD CONSTRAINT "FK_decaf331589778e33441b2a8d9e" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "event_channels" ADD CONSTRAINT "FK_352c80209527bd8b70663f6cdbc" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "event_types" ADD CONSTRAINT "FK_31a9e9474564b7bd28af30c7355" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" ADD CONSTRAINT "FK_8c19d726c1e4af52ce74db6f0e6" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "signing_secrets" ADD CONSTRAINT "FK_94cd46ae4ebaa5bbd5f3f9cc48f" FOREIGN KEY ("subscription_id") REFERENCES "webhook_subscriptions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "events" ADD CONSTRAINT "FK_54ec284da4b957748352c8310c8" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD CONSTRAINT "FK_6a9b04f909fedcc6438b48b90c1" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "deliveries" ADD CONSTRAINT "FK_475d7dfa30fed80412dcf59e403" FOREIGN KEY ("subscription_id") REFERENCES "webhook_subscriptions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "delivery_attempts" ADD CONSTRAINT "FK_a9d7e7212c87084249a641ab455" FOREIGN KEY ("delivery_id") REFERENCES "deliveries"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "delivery_attempts" ADD CONSTRAINT "FK_b41eeae00aaa5e341d16513ad1a" FOREIGN KEY ("subscription_id") REFERENCES "webhook_subscriptions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "delivery_attempts" DROP CONSTRAINT "FK_b41eeae00aaa5e341d16513ad1a"`);
    await queryRunner.query(`ALTER TABLE "delivery_attempts" DROP CONSTRAINT "FK_a9d7e7212c87084249a641ab455"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP CONSTRAINT "FK_475d7dfa30fed80412dcf59e403"`);
    await queryRunner.query(`ALTER TABLE "deliveries" DROP CONSTRAINT "FK_6a9b04f909fedcc6438b48b90c1"`);
    await queryRunner.query(`ALTER TABLE "events" DROP CONSTRAINT "FK_54ec284da4b957748352c8310c8"`);
    await queryRunner.query(`ALTER TABLE "signing_secrets" DROP CONSTRAINT "FK_94cd46ae4ebaa5bbd5f3f9cc48f"`);
    await queryRunner.query(`ALTER TABLE "webhook_subscriptions" DROP CONSTRAINT "FK_8c19d726c1e4af52ce74db6f0e6"`);
    await queryRunner.query(`ALTER TABLE "event_types" DROP CONSTRAINT "FK_31a9e9474564b7bd28af30c7355"`);
    await queryRunner.query(`ALTER TABLE "event_channels" DROP CONSTRAINT "FK_352c80209527bd8b70663f6cdbc"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "FK_decaf331589778e33441b2a8d9e"`);
    await queryRunner.query(`DROP INDEX "delivery_attempts_delivery_number_key"`);
    await queryRunner.query(`DROP INDEX "delivery_attempts_subscription_idx"`);
    await queryRunner.query(`DROP TABLE "delivery_attempts"`);
    await queryRunner.query(`DROP INDEX "deliveries_scope_idx"`);
    await queryRunner.query(`DROP INDEX "deliveries_subscription_idx"`);
    await queryRunner.query(`DROP INDEX "deliveries_event_subscription_key"`);
    await queryRunner.query(`DROP TABLE "deliveries"`);
    await queryRunner.query(`DROP INDEX "events_scope_idx"`);
    await queryRunner.query(`DROP INDEX "events_idempotency_key"`);
    await queryRunner.query(`DROP TABLE "events"`);
    await queryRunner.query(`DROP INDEX "signing_secrets_subscription_idx"`);
    await queryRunner.query(`DROP TABLE "signing_secrets"`);
    await queryRunner.query(`DROP INDEX "webhook_subscriptions_scope_idx"`);
    await queryRunner.query(`DROP TABLE "webhook_subscriptions"`);
    await queryRunner.query(`DROP INDEX "event_types_builtin_name_key"`);
    await queryRunner.query(`DROP INDEX "event_types_account_name_key"`);
    await queryRunner.query(`DROP TABLE "event_types"`);
    await queryRunner.query(`DROP INDEX "event_channels_builtin_name_key"`);
    await queryRunner.query(`DROP INDEX "event_channels_account_name_key"`);
    await queryRunner.query(`DROP TABLE "event_channels"`);
    await queryRunner.query(`DROP INDEX "api_keys_account_idx"`);
    await queryRunner.query(`DROP INDEX "api_keys_token_hash_key"`);
    await queryRunner.query(`DROP TABLE "api_keys"`);
    await queryRunner.query(`DROP TABLE "accounts"`);
  }
}
