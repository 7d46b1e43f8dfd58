-- Improvements an engineering escalation filed before SPEC §13: the escalation recorded the Linear
-- issue (`dedupe_key` engineering:<uuid>, `target` linear:<identifier>, `detail` ending in its URL).
UPDATE `improvements` SET
  `source` = 'linear',
  `ref` = (SELECT substr(e.`target`, 8) FROM `escalations` e
           WHERE e.`ticket_number` = `improvements`.`ticket_number` AND e.`kind` = 'engineering'
             AND substr(e.`detail`, -length(`improvements`.`url`)) = `improvements`.`url` LIMIT 1),
  `external_id` = (SELECT substr(e.`dedupe_key`, 13) FROM `escalations` e
           WHERE e.`ticket_number` = `improvements`.`ticket_number` AND e.`kind` = 'engineering'
             AND substr(e.`detail`, -length(`improvements`.`url`)) = `improvements`.`url` LIMIT 1)
WHERE `url` IS NOT NULL AND EXISTS (
  SELECT 1 FROM `escalations` e
  WHERE e.`ticket_number` = `improvements`.`ticket_number` AND e.`kind` = 'engineering'
    AND e.`target` LIKE 'linear:%' AND e.`dedupe_key` LIKE 'engineering:%'
    AND substr(e.`detail`, -length(`improvements`.`url`)) = `improvements`.`url`);
