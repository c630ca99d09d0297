-- Nothing to undo in the schema: 019 corrected data only, and what it removed was not true.
SELECT 1;
