-- What `drizzle-kit push` creates on MySQL for @auth/drizzle-adapter's default MySQL tables
-- (lib/mysql.js: varchar(255), `expires` TIMESTAMP, `emailVerified` TIMESTAMP(3)).
CREATE TABLE `user` (
    `id` varchar(255) NOT NULL,
    `name` varchar(255),
    `email` varchar(255),
    `emailVerified` timestamp(3) NULL,
    `image` varchar(255),
    CONSTRAINT `user_id` PRIMARY KEY(`id`),
    CONSTRAINT `user_email_unique` UNIQUE(`email`)
);

CREATE TABLE `session` (
    `sessionToken` varchar(255) NOT NULL,
    `userId` varchar(255) NOT NULL,
    `expires` timestamp NOT NULL,
    CONSTRAINT `session_sessionToken` PRIMARY KEY(`sessionToken`)
);

ALTER TABLE `session` ADD CONSTRAINT `session_userId_user_id_fk` FOREIGN KEY (`userId`) REFERENCES `user`(`id`) ON DELETE cascade ON UPDATE no action;
