-- The tables of @auth/drizzle-adapter's default SQLite schema (lib/sqlite.js `defineTables`),
-- written by hand in the form `drizzle-kit generate` emits: `integer({mode: "timestamp_ms"})`
-- and `integer({mode: "timestamp"})` are both INTEGER columns; the mode only changes what
-- Drizzle writes into them (milliseconds or seconds).
CREATE TABLE `user` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`email` text,
	`emailVerified` integer,
	`image` text
);
CREATE UNIQUE INDEX `user_email_unique` ON `user` (`email`);
CREATE TABLE `session` (
	`sessionToken` text PRIMARY KEY NOT NULL,
	`userId` text NOT NULL,
	`expires` integer NOT NULL,
	FOREIGN KEY (`userId`) REFERENCES `user`(`id`) ON UPDATE no action ON DELETE cascade
);
