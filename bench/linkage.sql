-- The data of bench/linkage.sh: a record of :patients patients, already
-- linked and indexed, and :records noisy person records to link against it.
-- Loaded with \i by bench/linkage.sh, after CREATE EXTENSION scr and
-- bench/lib.sql, as a superuser.  Deterministic for a given :seed.
--
-- The record is written directly, set-based: one GP source ('bench_gp') has
-- sent every patient once, so each patient has one scr.source_identifier
-- (link_method 'new_patient', demographics as received and as parsed), one
-- scr.patient_link_key (NHS number + birth date) and golden demographics in
-- scr.patient: the rows scr.ingest_person would have left that linkage
-- reads, at a fraction of its cost.  (No scr.patient_nhs_number or
-- scr.relationship rows: linkage does not read them.)
--
-- People: sex (0.08% unknown or other), then a given name (about 135 a
-- sex; unknown and other take women's names) and a family name, skewed as
-- in the UK: 280 common surnames, Smith the commonest at about 1.4%, and a
-- long tail of about 5,700 rarer ones made from place-name syllables
-- (Ashworth, Thornbury, ...), together half the people; birth dates uniform
-- over 1925-2020; 1.5% of patients are twins of the one before (family
-- name, birth date and address shared, another given name); about 6,000
-- postcodes in 16 postcode areas, each with its own street, so 'N Street,
-- Town' addresses; valid NHS numbers, all distinct (below).
--
-- The noisy records (bench.noisy): 90% are patients of the record, drawn at
-- random, each at most once, as another source would send them: NHS number
-- missing 30% (and 1% mistyped, so invalid); given name a nickname 8%, a
-- typo 4%; family name a typo 4%, another surname 3% of women (married),
-- double-barrelled 1%; birth day and month transposed 3%, wrong 2% (a day
-- out, a year out, or ten years); sex missing 1%; moved house 12% (new
-- postcode and address), postcode missing 3%, a typo 2%; address
-- abbreviated 10% or missing 5%; names in capitals 5%, postcodes in lower
-- case without the space 10%.  The other 10% are people the record does not
-- hold, drawn and garbled the same way.  Each record belongs to one of
-- :slices slices of equal size, at random.
--
-- NHS numbers: the 999 test range holds fewer than a million valid numbers
-- (one check digit per nine-digit prefix, one prefix in eleven refused), so
-- the bench uses 4000000000-4999999999 (England's range), as
-- bench/nhs_number.sh does; the database is thrown away.  The prefix of
-- person i is 400000000 + (48271 i + 1234567) mod 10^8, a bijection, so all
-- are distinct; the check digit is computed here (prefixes whose check
-- digit would be 10 are skipped).  People not in the record take the numbers
-- after the patients'.

SELECT setseed(:seed) \g /dev/null
SET work_mem = '256MB';
SET maintenance_work_mem = '512MB';

-- --- reference rows ---------------------------------------------------------
INSERT INTO scr.organisation (ods_code, name, kind) VALUES
	('B86999', 'Bench Medical Practice', 'gp_practice');
INSERT INTO scr.source_system (source_code, ods_code, kind, description) VALUES
	('bench_gp', 'B86999', 'gp', 'bench/linkage: the GP system that sent every patient');

-- --- name pools ---------------------------------------------------------------
-- Given names by sex, most frequent first, with a nickname where one is common.
CREATE TABLE bench.given_name (sex text, rank int, name text, nickname text);
INSERT INTO bench.given_name
SELECT 'female', n, split_part(x, ':', 1), nullif(split_part(x, ':', 2), '')
FROM unnest(string_to_array(
	'Margaret:Maggie,Mary,Sarah,Elizabeth:Liz,Susan:Sue,Patricia:Pat,Helen,Jennifer:Jenny,Karen,'
	'Julie,Emma,Linda,Christine:Chris,Jacqueline:Jackie,Catherine:Kate,Ann,Anne,Janet,Jean,Claire,'
	'Nicola:Nicky,Joan,Alison,Rebecca:Becky,Barbara:Barbs,Dorothy:Dot,Laura,Lisa,Michelle,Joanne:Jo,'
	'Louise,Victoria:Vicky,Rachel,Amanda:Mandy,Gillian:Gill,Valerie:Val,Sandra,Carol,Deborah:Debbie,'
	'Pauline,Maureen,Brenda,Irene,Sheila,Kathleen:Kath,Charlotte:Lottie,Hannah,Jessica:Jess,Sophie,'
	'Lauren,Amy,Chloe,Olivia:Liv,Emily:Em,Grace,Lucy,Ellie,Isabella:Bella,Ava,Mia,Amelia:Millie,'
	'Isla,Poppy,Freya,Lily,Evie,Sophia,Ruby,Florence:Flo,Ella,Katie,Megan:Meg,Holly,Bethany:Beth,'
	'Abigail:Abbie,Jade,Danielle:Dani,Natalie:Nat,Samantha:Sam,Stephanie:Steph,Zoe,Kirsty,Gemma,'
	'Kerry,Donna,Tracey,Diane,Lorraine,Wendy,Angela:Angie,Denise,Janice,Beverley:Bev,Marion,Rita,'
	'Edna,Eileen,Hilda,Vera,Elsie,Edith:Edie,Ivy,Betty,Frances:Fran,Rose,Alice,Phyllis,Gladys,'
	'Lilian,Ethel,Mavis,Shirley,Lesley,Heather,Fiona,Caroline:Caz,Jane,Kate,Anna,Fatima:Fatimah,'
	'Aisha:Ayesha,Priya,Amira,Zara,Maria,Agnieszka:Aga,Siobhan,Bridget:Bridie,Niamh,Chiamaka:Amaka,'
	'Yasmin,Noor,Harpreet,Gurpreet,Shazia,Nasreen,Ewa,Katarzyna:Kasia,Ngozi,Folake',
	',')) WITH ORDINALITY AS t(x, n);
INSERT INTO bench.given_name
SELECT 'male', n, split_part(x, ':', 1), nullif(split_part(x, ':', 2), '')
FROM unnest(string_to_array(
	'David:Dave,John,Michael:Mike,Peter:Pete,Robert:Bob,Paul,James:Jim,William:Bill,Richard:Rich,'
	'Christopher:Chris,Stephen:Steve,Mark,Andrew:Andy,Anthony:Tony,Thomas:Tom,George,Kenneth:Ken,'
	'Brian,Alan,Keith,Ian,Colin,Gary,Steven:Steve,Kevin:Kev,Martin,Simon,Neil,Graham,Philip:Phil,'
	'Derek,Roy,Ronald:Ron,Raymond:Ray,Frank,Albert:Bert,Arthur:Art,Harold:Harry,Ernest:Ernie,'
	'Frederick:Fred,Stanley:Stan,Leslie:Les,Dennis,Norman,Gordon,Eric,Walter:Wally,Charles:Charlie,'
	'Edward:Ted,Joseph:Joe,Daniel:Dan,Matthew:Matt,Jonathan:Jon,Timothy:Tim,Nicholas:Nick,Darren,'
	'Wayne,Lee,Craig,Jason,Dean,Carl,Scott,Adam,Ben,Benjamin:Ben,Samuel:Sam,Jack,Harry,Oliver:Ollie,'
	'Charlie,Jacob:Jake,Alfie,Noah,Oscar,Leo,Freddie,Archie,Joshua:Josh,Liam,Ryan,Luke,Callum,'
	'Connor,Jamie,Kieran,Aaron,Nathan:Nate,Lewis,Alexander:Alex,Henry:Harry,Theo,Arlo,'
	'Mohammed:Muhammad,Muhammad:Mohammed,Ali,Omar,Hassan,Imran,Tariq,Arjun,Rajesh:Raj,Sanjay,'
	'Tomasz:Tomek,Piotr,Sean,Patrick:Paddy,Declan,Gareth,Rhys,Dylan,Owen,Hugh,Stuart:Stu,Malcolm,'
	'Duncan,Trevor,Barry,Terence:Terry,Clive,Geoffrey:Geoff,Gerald:Gerry,Harjit,Oluwaseun:Seun,'
	'Ahmed:Ahmad,Kwame,Chinedu,Jakub,Krzysztof',
	',')) WITH ORDINALITY AS t(x, n);

-- Common family names, most frequent first.
CREATE TABLE bench.family_name (rank int, name text);
INSERT INTO bench.family_name
SELECT n, x FROM unnest(string_to_array(
	'Smith,Jones,Williams,Taylor,Brown,Davies,Evans,Wilson,Thomas,Johnson,Roberts,Robinson,Thompson,'
	'Wright,Walker,White,Edwards,Hughes,Green,Hall,Lewis,Harris,Clarke,Patel,Jackson,Wood,Turner,'
	'Martin,Cooper,Hill,Ward,Morris,Moore,Clark,Lee,King,Baker,Harrison,Morgan,Allen,James,Scott,'
	'Phillips,Watson,Davis,Parker,Price,Bennett,Young,Griffiths,Mitchell,Kelly,Cook,Carter,'
	'Richardson,Bailey,Collins,Bell,Shaw,Murphy,Miller,Cox,Richards,Khan,Marshall,Anderson,Simpson,'
	'Ellis,Adams,Singh,Begum,Wilkinson,Foster,Chapman,Powell,Webb,Rogers,Gray,Mason,Ali,Hunt,'
	'Hussain,Campbell,Matthews,Owen,Palmer,Holmes,Mills,Barnes,Knight,Lloyd,Butler,Russell,Barker,'
	'Fisher,Stevens,Jenkins,Murray,Dixon,Harvey,Graham,Pearson,Ahmed,Fletcher,Walsh,Kaur,Gibson,'
	'Howard,Andrews,Stewart,Elliott,Reynolds,Saunders,Payne,Fox,Ford,Pearce,Day,Brooks,West,'
	'Lawrence,Cole,Atkinson,Bradley,Spencer,Gill,Dawson,Ball,Burton,O''Brien,Watts,Rose,Booth,Perry,'
	'Ryan,Grant,Wells,Armstrong,Francis,Rees,Hayes,Hart,Hudson,Newman,Barrett,Webster,Hunter,'
	'Gregory,Carr,Lowe,Page,Marsh,Riley,Dunn,Woods,Parsons,Berry,Stone,Reid,Holland,Hawkins,'
	'Harding,Porter,Robertson,Newton,Oliver,Reed,Kennedy,Williamson,Bird,Gardner,Shah,Dean,Lane,'
	'Cooke,Bates,Henderson,Parry,Burgess,Bishop,Walton,Burns,Nicholson,Shepherd,Ross,Cross,Long,'
	'Freeman,Warren,Nicholls,Hamilton,Byrne,Sutton,McDonald,Yates,Hodgson,Robson,Curtis,Hopkins,'
	'O''Connor,Harper,Coleman,Watkins,Moss,McCarthy,Chambers,O''Neill,Griffin,Sharp,Hardy,Wheeler,'
	'Potter,Osborne,Johnston,Gordon,Doyle,Wallace,George,Jordan,Hutchinson,Rowe,Burke,May,'
	'Pritchard,Gilbert,Willis,Higgins,Read,Miles,Stevenson,Stephenson,Hammond,Arnold,Buckley,'
	'Walters,Hewitt,Barber,Nelson,Slater,Austin,Sullivan,Whitehead,Mann,Frost,Lambert,Stephens,'
	'Blake,Akhtar,Lynch,Goodwin,Barton,Woodward,Thomson,Cunningham,Quinn,Barnett,Baxter,Bibi,'
	'Clayton,Nash,Greenwood,Jennings,Holt,Kemp,Poole,Gallagher,Bond,Stokes,Tucker,Davidson,Fowler,'
	'Heath,Norman,Middleton,Lees,Banks,French,Jarvis,Connolly,MacLeod,Nowak,Kowalski,Okafor,'
	'Adeyemi,Chen,Ng,Wong,Mahmood,Iqbal,Rahman,Chowdhury,Sharma,Mistry,Kumar',
	',')) WITH ORDINALITY AS t(x, n);
-- The long tail: place-name syllables, prefix + (middle) + suffix, in a
-- scrambled but fixed order, ranked after the common names.
INSERT INTO bench.family_name
SELECT (SELECT max(rank) FROM bench.family_name) + row_number() OVER (ORDER BY md5(name)), name
FROM (
	SELECT DISTINCT p || m || s AS name
	FROM unnest(string_to_array('Ash,Black,Brad,Bram,Brook,Cald,Carl,Chad,Clay,Craw,Dal,Dun,East,Ed,'
		'Elm,Fair,Farn,Fen,Gold,Hal,Ham,Hay,Heath,Hol,Kings,Kirk,Lang,Lin,Mar,Mid,Nor,Oak,Pen,Pick,'
		'Rad,Ray,Ring,Rock,Sal,Sand,Shel,Staf,Stan,Thorn,Tod,Up,War,Wel,Wes,Whit,Wil,Win,Wrex,Yar,'
		'Ather,Bing,Cran,Dray,Ever,Gars', ',')) p,
		 unnest(string_to_array(',er,ing', ',')) m,
		 unnest(string_to_array('ley,ton,ford,field,worth,by,well,wood,ham,ridge,more,shaw,stone,bury,'
		'combe,dale,hurst,wick,land,cott,brook,thorpe,gate,holme,mere,side,stead,wall,burn,den,'
		'wright,ington', ',')) s
) x
WHERE name NOT IN (SELECT name FROM bench.family_name);

-- Draw tables: a name takes slots in proportion to its weight, 1/(rank + k),
-- at least one.  A person draws a slot uniformly, joined by hash.
CREATE TABLE bench.given_slot (sex text, slot int, name text, nickname text);
INSERT INTO bench.given_slot
SELECT sex, (row_number() OVER (PARTITION BY sex ORDER BY rank, k) - 1)::int, name, nickname
FROM (SELECT g.*, greatest(1, round(100000 * (1.0 / (rank + 5))
									/ sum(1.0 / (rank + 5)) OVER (PARTITION BY sex)))::int AS slots
	  FROM bench.given_name g) w, generate_series(1, w.slots) k;
CREATE TABLE bench.family_slot (slot int, name text);
INSERT INTO bench.family_slot
SELECT (row_number() OVER (ORDER BY rank, k) - 1)::int, name
FROM (SELECT f.*, greatest(1, round(300000 * (1.0 / (rank + 10))
									/ sum(1.0 / (rank + 10)) OVER ()))::int AS slots
	  FROM bench.family_name f) w, generate_series(1, w.slots) k;

-- Postcodes: 16 areas, 15 districts each, about 25 units a district, each
-- unit one street of the area's town.
CREATE TABLE bench.postcode (slot int, postcode text, street text, town text);
INSERT INTO bench.postcode
SELECT (row_number() OVER (ORDER BY pc) - 1)::int, pc, street, town
FROM (
	SELECT DISTINCT ON (pc) pc, street, town
	FROM (
		SELECT a.area || d || ' ' || (floor(random() * 10))::int
				   || substr('ABDEFGHJLNPQRSTUWXYZ', 1 + floor(random() * 20)::int, 1)
				   || substr('ABDEFGHJLNPQRSTUWXYZ', 1 + floor(random() * 20)::int, 1) AS pc,
			   (ARRAY['High', 'Station', 'Church', 'Park', 'Mill', 'Victoria', 'Queens', 'Manor',
					  'Chapel', 'Grange', 'Oak', 'Springfield', 'Albert', 'Beech', 'Cemetery', 'Cross',
					  'Dale', 'Elm', 'Fern', 'Garden', 'Green', 'Hall', 'Hill', 'Kings', 'Lime', 'Main',
					  'Market', 'Meadow', 'New', 'North', 'Orchard', 'Princess', 'Regent', 'School',
					  'South', 'Spring', 'Stanley', 'West', 'Willow', 'York'])[1 + floor(random() * 40)::int]
			   || ' ' || (ARRAY['Street', 'Road', 'Lane', 'Avenue', 'Close', 'Drive', 'Way', 'Terrace',
								'Crescent', 'Grove'])[1 + floor(random() * 10)::int] AS street,
			   a.town
		FROM (VALUES ('LS', 'Leeds'), ('BD', 'Bradford'), ('HX', 'Halifax'), ('HD', 'Huddersfield'),
					 ('WF', 'Wakefield'), ('YO', 'York'), ('HG', 'Harrogate'), ('S', 'Sheffield'),
					 ('M', 'Manchester'), ('OL', 'Oldham'), ('BB', 'Blackburn'),
					 ('NE', 'Newcastle upon Tyne'), ('L', 'Liverpool'), ('B', 'Birmingham'),
					 ('NG', 'Nottingham'), ('DN', 'Doncaster')) a(area, town),
			 generate_series(1, 15) d, generate_series(1, 26) u
	) x
	ORDER BY pc, street
) y;

SELECT (SELECT count(*) FROM bench.given_slot WHERE sex = 'female') AS n_female_slots,
	   (SELECT count(*) FROM bench.given_slot WHERE sex = 'male') AS n_male_slots,
	   (SELECT count(*) FROM bench.family_slot) AS n_family_slots,
	   (SELECT count(*) FROM bench.postcode) AS n_postcodes \gset

-- --- people ---------------------------------------------------------------------
-- NHS numbers: person i's prefix, its check digit; the first :patients valid
-- ones are the record's, the rest go to people it does not hold.
CREATE UNLOGGED TABLE bench.nhs (person bigint PRIMARY KEY, nhs_number text NOT NULL);
INSERT INTO bench.nhs
SELECT row_number() OVER (ORDER BY i), f::text || c
FROM (SELECT i, f, (11 - (f / 100000000 % 10 * 10 + f / 10000000 % 10 * 9 + f / 1000000 % 10 * 8
						  + f / 100000 % 10 * 7 + f / 10000 % 10 * 6 + f / 1000 % 10 * 5
						  + f / 100 % 10 * 4 + f / 10 % 10 * 3 + f % 10 * 2) % 11) % 11 AS c
	  FROM (SELECT i, 400000000 + (i * 48271 + 1234567) % 100000000 AS f
			FROM generate_series(0, ((:patients + :records) * 1.12)::bigint + 1000) i) g) x
WHERE c < 10;

-- person: 1 .. :patients are the record's patients (patient_id = person);
-- the next :records are candidates for the people it does not hold.
CREATE UNLOGGED TABLE bench.person (
	person bigint PRIMARY KEY, nhs_number text NOT NULL, given_name text NOT NULL, nickname text,
	family_name text NOT NULL, birth_date date NOT NULL, sex text NOT NULL, postcode text NOT NULL,
	address text NOT NULL);
INSERT INTO bench.person
SELECT d.person, n.nhs_number, g.name, g.nickname, f.name,
	   date '1925-01-01' + floor(d.r_birth * (date '2021-01-01' - date '1925-01-01'))::int,
	   CASE WHEN d.r_sex < 0.0005 THEN 'unknown' WHEN d.r_sex < 0.0008 THEN 'other'
			WHEN d.r_sex < 0.5004 THEN 'female' ELSE 'male' END,
	   p.postcode, (1 + floor(d.r_house * 150))::int || ' ' || p.street || ', ' || p.town
FROM (SELECT i AS person, random() AS r_sex, random() AS r_given, random() AS r_family,
			 random() AS r_birth, random() AS r_pc, random() AS r_house
	  FROM generate_series(1, :patients + :records) i) d
JOIN bench.nhs n USING (person)
JOIN bench.given_slot g
	ON g.sex = CASE WHEN d.r_sex < 0.5004 THEN 'female' ELSE 'male' END
	AND g.slot = floor(d.r_given * CASE WHEN d.r_sex < 0.5004 THEN :n_female_slots ELSE :n_male_slots END)::int
JOIN bench.family_slot f ON f.slot = floor(d.r_family * :n_family_slots)::int
JOIN bench.postcode p ON p.slot = floor(d.r_pc * :n_postcodes)::int;

-- Twins: 1.5% of the patients share the family name, birth date and address
-- of the patient before them (their own given name and sex stand).
UPDATE bench.person p
SET family_name = q.family_name, birth_date = q.birth_date, postcode = q.postcode, address = q.address
FROM bench.person q
WHERE q.person = p.person - 1 AND p.person BETWEEN 2 AND :patients AND random() < 0.015;

-- --- the record -----------------------------------------------------------------
-- What scr.ingest_person would have left for one GP source that sent every
-- patient once, as far as linkage reads it: scr.patient (golden
-- demographics), scr.source_identifier, scr.patient_link_key.  Patient ids
-- are the person numbers.
--
-- Written with session_replication_role = replica: no foreign-key checks (the
-- rows are consistent by construction) and no audit triggers (they would add
-- 3M audit events, over 1 GB; linkage does not read them).  Together that is
-- about a third of the build.  Should any of these tables gain another
-- trigger that fires on INSERT, which might maintain something linkage
-- reads, the record is written with every trigger on but the audit ones
-- instead.  (Triggers on UPDATE only, such as alerting's alert_on_death,
-- do not fire for these inserts.)
SELECT NOT EXISTS (
	SELECT FROM pg_trigger
	WHERE tgrelid IN ('scr.patient'::regclass, 'scr.source_identifier'::regclass,
					  'scr.patient_link_key'::regclass)
	  AND NOT tgisinternal AND tgname !~ '^audit_'
	  AND (tgtype & 4) <> 0					-- TRIGGER_TYPE_INSERT
) AS replica_ok \gset
\if :replica_ok
SET session_replication_role = replica;
\else
\warn 'linkage bench: the record''s tables have triggers other than audit ones; writing with them on (slower)'
ALTER TABLE scr.patient DISABLE TRIGGER audit_insert;
ALTER TABLE scr.source_identifier DISABLE TRIGGER audit_insert;
ALTER TABLE scr.patient_link_key DISABLE TRIGGER audit_insert;
\endif

INSERT INTO scr.patient (patient_id, nhs_number, nhs_number_status, given_name, family_name,
						 birth_date, sex, postcode, address, gp_practice)
OVERRIDING SYSTEM VALUE
SELECT person, nhs_number::scr.nhs_number, '01', given_name, family_name, birth_date, sex,
	   postcode, address, 'B86999'
FROM bench.person WHERE person <= :patients ORDER BY person;
SELECT setval(pg_get_serial_sequence('scr.patient', 'patient_id'), :patients) \g /dev/null

INSERT INTO scr.source_identifier
	(patient_id, source_code, local_id, link_method, demographics, nhs_number, nhs_number_received,
	 nhs_number_status, given_name, family_name, birth_date, sex, postcode, address, gp_practice)
SELECT person, 'bench_gp', 'BG' || lpad(person::text, 8, '0'), 'new_patient',
	   jsonb_build_object('nhs_number', nhs_number, 'nhs_number_status', '01',
						  'given_name', given_name, 'family_name', family_name,
						  'birth_date', to_char(birth_date, 'YYYY-MM-DD'), 'sex', sex,
						  'postcode', postcode, 'address', address, 'gp_practice', 'B86999'),
	   nhs_number::scr.nhs_number, nhs_number, '01', given_name, family_name, birth_date, sex,
	   postcode, address, 'B86999'
FROM bench.person WHERE person <= :patients ORDER BY person;

INSERT INTO scr.patient_link_key (patient_id, nhs_number, birth_date)
SELECT person, nhs_number::scr.nhs_number, birth_date
FROM bench.person WHERE person <= :patients ORDER BY person;

\if :replica_ok
RESET session_replication_role;
\else
ALTER TABLE scr.patient ENABLE TRIGGER audit_insert;
ALTER TABLE scr.source_identifier ENABLE TRIGGER audit_insert;
ALTER TABLE scr.patient_link_key ENABLE TRIGGER audit_insert;
\endif

-- --- noise ----------------------------------------------------------------------
-- A one-character typo after the first letter: a letter changed, dropped,
-- doubled, or two swapped.  r picks the kind and the place.
CREATE FUNCTION bench.typo(s text, r float8) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN length(s) < 3 THEN s
		WHEN r < 0.25 THEN overlay(s placing chr(97 + floor(r * 4000)::int % 26)
								   from 2 + floor(r * 997)::int % (length(s) - 1) for 1)
		WHEN r < 0.5 THEN overlay(s placing '' from 2 + floor(r * 997)::int % (length(s) - 1) for 1)
		WHEN r < 0.75 THEN overlay(s placing repeat(substr(s, 2 + floor(r * 997)::int % (length(s) - 1), 1), 2)
								   from 2 + floor(r * 997)::int % (length(s) - 1) for 1)
		ELSE overlay(s placing substr(s, 3 + floor(r * 997)::int % (length(s) - 2), 1)
								|| substr(s, 2 + floor(r * 997)::int % (length(s) - 2), 1)
					 from 2 + floor(r * 997)::int % (length(s) - 2) for 2)
	END
$$;

-- Common abbreviations of a street type.
CREATE FUNCTION bench.abbreviate(address text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(address,
		' Street,', ' St,'), ' Road,', ' Rd,'), ' Avenue,', ' Ave,'), ' Lane,', ' Ln,'), ' Drive,', ' Dr,')
$$;

-- The noisy records, in random order: n is the order, slice the sample a
-- record belongs to.  true_patient is NULL for people the record does not hold.
CREATE TABLE bench.noisy (
	n int PRIMARY KEY, slice int NOT NULL, person bigint NOT NULL, true_patient bigint,
	noise text[] NOT NULL, demographics jsonb NOT NULL);
WITH picked AS (
	(SELECT person FROM bench.person WHERE person <= :patients
	 ORDER BY random() LIMIT round(:records * 0.9)::int)
	UNION ALL
	SELECT person FROM bench.person
	WHERE person > :patients AND person <= :patients + :records - round(:records * 0.9)::int
), drawn AS (
	SELECT p.*, k.person <= :patients AS indexed,
		   random() AS o, random() AS r_nhs, random() AS r_given, random() AS r_family,
		   random() AS r_birth, random() AS r_sex, random() AS r_pc, random() AS r_addr,
		   random() AS r_case, random() AS r_x1, random() AS r_x2, random() AS r_x3, random() AS r_x4
	FROM picked k JOIN bench.person p USING (person)
), noised AS (
	SELECT d.*,
		   CASE WHEN r_nhs < 0.30 THEN NULL
				WHEN r_nhs < 0.31 AND substr(nhs_number, 5, 1) <> substr(nhs_number, 6, 1)
					THEN overlay(nhs_number placing substr(nhs_number, 6, 1) || substr(nhs_number, 5, 1) from 5 for 2)
				ELSE nhs_number END AS q_nhs,
		   CASE WHEN r_given < 0.08 AND nickname IS NOT NULL THEN nickname
				WHEN r_given >= 0.08 AND r_given < 0.12 THEN bench.typo(given_name, r_x1)
				ELSE given_name END AS q_given,
		   CASE WHEN r_family < 0.04 THEN bench.typo(family_name, r_x2)
				WHEN r_family < 0.07 AND sex = 'female' THEN f1.name
				WHEN r_family >= 0.07 AND r_family < 0.08 THEN family_name || '-' || f1.name
				ELSE family_name END AS q_family,
		   CASE WHEN r_birth < 0.03 AND extract(day FROM birth_date) <= 12
					 AND extract(day FROM birth_date) <> extract(month FROM birth_date)
					THEN make_date(extract(year FROM birth_date)::int, extract(day FROM birth_date)::int,
								   extract(month FROM birth_date)::int)
				WHEN r_birth < 0.05 THEN
					CASE WHEN r_x3 < 0.5 THEN birth_date + CASE WHEN extract(day FROM birth_date) > 1 THEN -1 ELSE 1 END
						 WHEN r_x3 < 0.8 THEN (birth_date + interval '1 year')::date
						 ELSE (birth_date - interval '10 years')::date END
				ELSE birth_date END AS q_birth,
		   CASE WHEN r_sex < 0.01 THEN NULL ELSE sex END AS q_sex,
		   r_pc < 0.12 AS moved,
		   CASE WHEN r_pc < 0.12 THEN pc.postcode
				WHEN r_pc < 0.15 THEN NULL
				WHEN r_pc < 0.17 THEN
					CASE WHEN substr(d.postcode, length(d.postcode) - 1, 1) <> right(d.postcode, 1)
						 THEN overlay(d.postcode placing right(d.postcode, 1) || substr(d.postcode, length(d.postcode) - 1, 1)
									  from length(d.postcode) - 1 for 2)
						 ELSE overlay(d.postcode placing ((substr(d.postcode, length(d.postcode) - 2, 1)::int + 1) % 10)::text
									  from length(d.postcode) - 2 for 1) END
				ELSE d.postcode END AS q_pc0,
		   CASE WHEN r_pc < 0.12 THEN (1 + floor(r_x4 * 150))::int || ' ' || pc.street || ', ' || pc.town
				WHEN r_addr < 0.10 THEN bench.abbreviate(address)
				WHEN r_addr < 0.15 THEN NULL
				ELSE address END AS q_addr
	FROM drawn d
	JOIN bench.family_slot f1 ON f1.slot = floor(d.r_x2 * :n_family_slots)::int
	JOIN bench.postcode pc ON pc.slot = floor(d.r_x4 * :n_postcodes)::int
)
INSERT INTO bench.noisy
SELECT n, (n - 1) % :slices, person, CASE WHEN indexed THEN person END,
	   array_remove(ARRAY[
		   CASE WHEN NOT indexed THEN 'not_in_record' END,
		   CASE WHEN q_nhs IS NULL THEN 'no_nhs_number' WHEN q_nhs <> nhs_number THEN 'nhs_number_typo' END,
		   CASE WHEN q_given = nickname AND q_given <> given_name THEN 'nickname'
				WHEN q_given <> given_name THEN 'given_typo' END,
		   CASE WHEN q_family <> family_name THEN 'family_changed' END,
		   CASE WHEN q_birth <> birth_date THEN 'birth_date' END,
		   CASE WHEN q_sex IS NULL THEN 'no_sex' END,
		   CASE WHEN moved THEN 'moved' WHEN q_pc0 IS NULL THEN 'no_postcode'
				WHEN q_pc0 <> postcode THEN 'postcode_typo' END,
		   CASE WHEN NOT moved AND q_addr IS NULL THEN 'no_address'
				WHEN NOT moved AND q_addr <> address THEN 'address_abbreviated' END,
		   CASE WHEN r_case < 0.05 THEN 'capitals' END], NULL),
	   jsonb_strip_nulls(jsonb_build_object(
		   'nhs_number', q_nhs,
		   'given_name', CASE WHEN r_case < 0.05 THEN upper(q_given) ELSE q_given END,
		   'family_name', CASE WHEN r_case < 0.05 THEN upper(q_family) ELSE q_family END,
		   'birth_date', to_char(q_birth, 'YYYY-MM-DD'), 'sex', q_sex,
		   'postcode', CASE WHEN r_case >= 0.05 AND r_case < 0.15 THEN lower(replace(q_pc0, ' ', '')) ELSE q_pc0 END,
		   'address', q_addr))
FROM (SELECT row_number() OVER (ORDER BY o)::int AS n, * FROM noised) x;

