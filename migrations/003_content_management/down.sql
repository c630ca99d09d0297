DROP TABLE IF EXISTS media_files;
