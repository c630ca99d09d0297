DROP TABLE IF EXISTS user_info;
DROP TABLE IF EXISTS subscription_history;
