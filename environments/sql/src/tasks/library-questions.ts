import { lit, monthName, type QuestionTemplate } from './template.ts';

const LOAN_YEARS = "SELECT DISTINCT strftime('%Y', loaned_on) AS year FROM loans ORDER BY year";
const AUTHORS_WITH_BOOKS =
  'SELECT DISTINCT a.name FROM authors a JOIN books b ON b.author_id = a.id ORDER BY a.id';
const BORROWERS = 'SELECT DISTINCT m.name FROM members m JOIN loans l ON l.member_id = m.id ORDER BY m.id';

export const LIBRARY_TEMPLATES: QuestionTemplate[] = [
  {
    id: 'books-in-year',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT DISTINCT published_year AS year FROM books ORDER BY year',
    sql: (p) => `SELECT title FROM books WHERE published_year = ${p.year}`,
    phrasings: [
      (p) => `List the titles of books published in ${p.year}.`,
      (p) => `Which books came out in ${p.year}?`,
      (p) => `Name the books in the collection whose publication year is ${p.year}.`,
      (p) => `What titles were published in the year ${p.year}?`,
    ],
  },
  {
    id: 'genre-count',
    difficulty: 'easy',
    skill: 'aggregation',
    params: 'SELECT DISTINCT genre FROM books ORDER BY genre',
    sql: (p) => `SELECT COUNT(*) FROM books WHERE genre = ${lit(p.genre!)}`,
    phrasings: [
      (p) => `How many ${p.genre} books does the library have?`,
      (p) => `Count the books in the genre ${p.genre}.`,
      (p) => `What is the number of titles filed under ${p.genre}?`,
      (p) => `The collection holds how many books of the genre ${p.genre}?`,
    ],
  },
  {
    id: 'authors-from-country',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT DISTINCT country FROM authors WHERE country IS NOT NULL ORDER BY country',
    sql: (p) => `SELECT name FROM authors WHERE country = ${lit(p.country!)}`,
    phrasings: [
      (p) => `List the authors from ${p.country}.`,
      (p) => `Which writers in the collection come from ${p.country}?`,
      (p) => `Name the authors whose country is ${p.country}.`,
      (p) => `Who are the ${p.country} authors?`,
    ],
  },
  {
    id: 'long-books-in-genre',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT DISTINCT genre, n FROM books, (SELECT 400 AS n UNION ALL SELECT 600) ORDER BY genre, n',
    sql: (p) => `SELECT title FROM books WHERE genre = ${lit(p.genre!)} AND pages > ${p.n}`,
    phrasings: [
      (p) => `Which ${p.genre} books have more than ${p.n} pages?`,
      (p) => `List the titles of ${p.genre} books longer than ${p.n} pages.`,
      (p) => `Name the ${p.genre} titles with a page count above ${p.n}.`,
      (p) => `What ${p.genre} books run to over ${p.n} pages?`,
    ],
  },
  {
    id: 'members-joined-in-year',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params: "SELECT DISTINCT strftime('%Y', joined_on) AS year FROM members ORDER BY year",
    sql: (p) => `SELECT name FROM members WHERE strftime('%Y', joined_on) = ${lit(p.year!)}`,
    phrasings: [
      (p) => `Which members joined the library in ${p.year}?`,
      (p) => `List the members whose membership started in ${p.year}.`,
      (p) => `Name everyone who became a library member during ${p.year}.`,
      (p) => `Who signed up for a library card in ${p.year}?`,
    ],
  },
  {
    id: 'members-without-email',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params: "SELECT DISTINCT strftime('%Y', joined_on) AS year FROM members ORDER BY year",
    sql: (p) =>
      `SELECT COUNT(*) FROM members WHERE strftime('%Y', joined_on) = ${lit(p.year!)} AND email IS NULL`,
    phrasings: [
      (p) => `How many members who joined in ${p.year} have no email address on file?`,
      (p) => `Count the ${p.year} joiners without an email.`,
      (p) => `Of the members who joined in ${p.year}, how many gave no email address?`,
      (p) => `What number of members from the ${p.year} intake lack an email?`,
    ],
  },
  {
    id: 'books-by-author',
    difficulty: 'medium',
    skill: 'join',
    params: AUTHORS_WITH_BOOKS,
    sql: (p) =>
      `SELECT b.title FROM books b JOIN authors a ON a.id = b.author_id WHERE a.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which books did ${p.name} write?`,
      (p) => `List the titles written by ${p.name}.`,
      (p) => `What does the library hold by ${p.name}? Give the titles.`,
      (p) => `Name the books whose author is ${p.name}.`,
    ],
  },
  {
    id: 'author-of-book',
    difficulty: 'medium',
    skill: 'join',
    params: 'SELECT title FROM books ORDER BY id',
    sql: (p) =>
      `SELECT a.name FROM authors a JOIN books b ON b.author_id = a.id WHERE b.title = ${lit(p.title!)}`,
    phrasings: [
      (p) => `Who wrote "${p.title}"?`,
      (p) => `Name the author of the book "${p.title}".`,
      (p) => `"${p.title}" was written by whom?`,
      (p) => `Which author is "${p.title}" by?`,
    ],
  },
  {
    id: 'loans-of-member',
    difficulty: 'medium',
    skill: 'join',
    params: 'SELECT name FROM members ORDER BY id',
    sql: (p) =>
      `SELECT COUNT(*) FROM loans l JOIN members m ON m.id = l.member_id WHERE m.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `How many loans has ${p.name} made?`,
      (p) => `How many times has the member ${p.name} borrowed a book?`,
      (p) => `Count the loans of the member ${p.name}.`,
      (p) => `What is the total number of books ${p.name} has taken out?`,
    ],
  },
  {
    id: 'still-out-for-member',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params:
      'SELECT DISTINCT m.name FROM members m JOIN loans l ON l.member_id = m.id WHERE l.returned_on IS NULL ORDER BY m.id',
    sql: (p) =>
      `SELECT b.title FROM loans l JOIN members m ON m.id = l.member_id JOIN books b ON b.id = l.book_id WHERE m.name = ${lit(p.name!)} AND l.returned_on IS NULL`,
    phrasings: [
      (p) => `Which books does ${p.name} still have on loan (not yet returned)?`,
      (p) => `List the titles ${p.name} has borrowed and not returned.`,
      (p) => `What is ${p.name} still holding from the library? Give the titles.`,
      (p) => `Name the books whose loans to ${p.name} have no return date.`,
    ],
  },
  {
    id: 'average-pages-of-genre',
    difficulty: 'medium',
    skill: 'aggregation',
    params: 'SELECT DISTINCT genre FROM books ORDER BY genre',
    sql: (p) => `SELECT ROUND(AVG(pages), 1) FROM books WHERE genre = ${lit(p.genre!)}`,
    phrasings: [
      (p) =>
        `What is the average page count of ${p.genre} books, ignoring books without a page count? Round to one decimal.`,
      (p) =>
        `On average, how many pages does a ${p.genre} book have (uncatalogued page counts left out)? One decimal.`,
      (p) =>
        `Compute the mean number of pages of the ${p.genre} titles with a known page count, to 1 decimal.`,
      (p) =>
        `How long is a typical ${p.genre} book, as the average of the known page counts rounded to one decimal?`,
    ],
  },
  {
    id: 'oldest-in-genre',
    difficulty: 'medium',
    skill: 'ordering',
    params: 'SELECT DISTINCT genre, k FROM books, (SELECT 3 AS k UNION ALL SELECT 5) ORDER BY genre, k',
    sql: (p) =>
      `SELECT title, published_year FROM books WHERE genre = ${lit(p.genre!)} ORDER BY published_year, title LIMIT ${p.k}`,
    phrasings: [
      (p) =>
        `What are the ${p.k} oldest ${p.genre} books? Give title and year, oldest first, ties broken by title.`,
      (p) =>
        `List the ${p.k} earliest-published ${p.genre} titles with their years, oldest first (same year: by title).`,
      (p) =>
        `Which ${p.k} ${p.genre} books were published first? Title and year, in order of year then title.`,
      (p) =>
        `Give the first ${p.k} ${p.genre} books by publication year, with the year, sorted oldest first and then by title.`,
    ],
  },
  {
    id: 'member-loans-in-year',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params:
      "SELECT DISTINCT m.name, strftime('%Y', l.loaned_on) AS year FROM members m JOIN loans l ON l.member_id = m.id ORDER BY m.id, year",
    sql: (p) =>
      `SELECT COUNT(*) FROM loans l JOIN members m ON m.id = l.member_id WHERE m.name = ${lit(p.name!)} AND strftime('%Y', l.loaned_on) = ${lit(p.year!)}`,
    phrasings: [
      (p) => `How many books did ${p.name} borrow in ${p.year}?`,
      (p) => `Count the loans ${p.name} started during ${p.year}.`,
      (p) => `In ${p.year}, how many times did ${p.name} borrow a book?`,
      (p) => `What number of loans does ${p.name} have with a loan date in ${p.year}?`,
    ],
  },
  {
    id: 'loan-rank-in-genre',
    difficulty: 'medium',
    skill: 'window',
    params: 'SELECT title FROM books ORDER BY id',
    sql: (p) =>
      `SELECT r FROM (SELECT b.title, RANK() OVER (PARTITION BY b.genre ORDER BY COUNT(l.id) DESC) AS r FROM books b LEFT JOIN loans l ON l.book_id = b.id GROUP BY b.id) WHERE title = ${lit(p.title!)}`,
    phrasings: [
      (p) =>
        `Ranked by number of loans within its genre (1 = most borrowed, ties share a rank), where does "${p.title}" stand?`,
      (p) => `What is the loan-count rank of "${p.title}" among the books of its genre, most borrowed first?`,
      (p) =>
        `Among books of the same genre, which rank does "${p.title}" get when sorted by how often they were borrowed (ties get the same rank)?`,
      (p) => `Give the rank of "${p.title}" in its genre by times borrowed, counting the most borrowed as 1.`,
    ],
  },
  {
    id: 'late-in-month',
    difficulty: 'hard',
    skill: 'dates-and-nulls',
    params: "SELECT DISTINCT strftime('%Y-%m', loaned_on) AS month FROM loans ORDER BY month",
    sql: (p) =>
      `SELECT COUNT(*) FROM loans WHERE strftime('%Y-%m', loaned_on) = ${lit(p.month!)} AND (returned_on IS NULL OR returned_on > due_on)`,
    phrasings: [
      (p) => `How many loans made in ${monthName(p.month!)} were returned late or not returned at all?`,
      (p) => `Count the ${monthName(p.month!)} loans that came back after their due date or never came back.`,
      (p) =>
        `Of the loans started in ${monthName(p.month!)}, how many are overdue returns or still outstanding?`,
      (p) =>
        `What number of loans from ${monthName(p.month!)} have a return after the due date, or no return?`,
    ],
  },
  {
    id: 'top-genres-in-year',
    difficulty: 'hard',
    skill: 'ordering',
    params: `SELECT year, k FROM (${LOAN_YEARS}), (SELECT 3 AS k UNION ALL SELECT 5) ORDER BY year, k`,
    sql: (p) =>
      `SELECT b.genre, COUNT(*) AS loans FROM loans l JOIN books b ON b.id = l.book_id WHERE strftime('%Y', l.loaned_on) = ${lit(p.year!)} GROUP BY b.genre ORDER BY loans DESC, b.genre LIMIT ${p.k}`,
    phrasings: [
      (p) =>
        `Which ${p.k} genres were borrowed most often in ${p.year}? Give genre and number of loans, most first, ties by genre.`,
      (p) =>
        `List the top ${p.k} genres by loans in ${p.year} with their loan counts, highest first (ties by genre name).`,
      (p) =>
        `In ${p.year}, what were the ${p.k} most borrowed genres? Genre and loans, descending, then alphabetical.`,
      (p) =>
        `Rank genres by how many loans they had in ${p.year} and give the first ${p.k} with their counts (ties broken by genre).`,
    ],
  },
  {
    id: 'never-borrowed-by-author',
    difficulty: 'hard',
    skill: 'nesting',
    params: AUTHORS_WITH_BOOKS,
    sql: (p) =>
      `SELECT b.title FROM books b JOIN authors a ON a.id = b.author_id WHERE a.name = ${lit(p.name!)} AND NOT EXISTS (SELECT 1 FROM loans l WHERE l.book_id = b.id)`,
    phrasings: [
      (p) => `Which books by ${p.name} have never been borrowed?`,
      (p) => `List the titles of ${p.name} that no member has ever taken out.`,
      (p) => `Name ${p.name}'s books without a single loan.`,
      (p) => `What books written by ${p.name} have zero loans?`,
    ],
  },
  {
    id: 'long-loans',
    difficulty: 'hard',
    skill: 'dates-and-nulls',
    params: `SELECT year, n FROM (${LOAN_YEARS}), (SELECT 40 AS n UNION ALL SELECT 50) ORDER BY year, n`,
    sql: (p) =>
      `SELECT DISTINCT m.name FROM loans l JOIN members m ON m.id = l.member_id WHERE strftime('%Y', l.loaned_on) = ${lit(p.year!)} AND julianday(l.returned_on) - julianday(l.loaned_on) > ${p.n}`,
    phrasings: [
      (p) => `Which members kept a book borrowed in ${p.year} for more than ${p.n} days before returning it?`,
      (p) =>
        `List the members who returned a book borrowed in ${p.year} more than ${p.n} days after taking it out.`,
      (p) => `Name everyone with a returned ${p.year} loan that lasted over ${p.n} days.`,
      (p) =>
        `Who held on to a book loaned in ${p.year} for longer than ${p.n} days (counting only returned books)?`,
    ],
  },
  {
    id: 'authors-with-many-books',
    difficulty: 'hard',
    skill: 'aggregation',
    params: 'SELECT n FROM (SELECT 4 AS n UNION ALL SELECT 5 UNION ALL SELECT 6)',
    sql: (p) =>
      `SELECT a.name, COUNT(*) AS books FROM authors a JOIN books b ON b.author_id = a.id GROUP BY a.id HAVING COUNT(*) >= ${p.n}`,
    phrasings: [
      (p) => `Which authors have at least ${p.n} books in the collection? Give name and number of books.`,
      (p) => `List the authors with ${p.n} or more titles in the library, with their book counts.`,
      (p) => `Name every author represented by no fewer than ${p.n} books, and how many.`,
      (p) => `For authors with at least ${p.n} books here, give the name and the number of books.`,
    ],
  },
  {
    id: 'authors-read-by-member',
    difficulty: 'hard',
    skill: 'multi-join',
    params: BORROWERS,
    sql: (p) =>
      `SELECT DISTINCT a.name FROM loans l JOIN members m ON m.id = l.member_id JOIN books b ON b.id = l.book_id JOIN authors a ON a.id = b.author_id WHERE m.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Whose books has ${p.name} borrowed? List the authors once each.`,
      (p) => `Which authors wrote the books that ${p.name} took out?`,
      (p) => `Name every author with at least one book borrowed by ${p.name}.`,
      (p) => `List the distinct authors of the titles in ${p.name}'s loans.`,
    ],
  },
  {
    id: 'borrowers-of-author',
    difficulty: 'hard',
    skill: 'multi-join',
    params: AUTHORS_WITH_BOOKS,
    sql: (p) =>
      `SELECT DISTINCT m.name FROM loans l JOIN books b ON b.id = l.book_id JOIN authors a ON a.id = b.author_id JOIN members m ON m.id = l.member_id WHERE a.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which members have borrowed a book by ${p.name}?`,
      (p) => `List the members (each once) who took out anything written by ${p.name}.`,
      (p) => `Name the readers who have had one of ${p.name}'s books on loan.`,
      (p) => `Who has borrowed at least one title by the author ${p.name}?`,
    ],
  },
  {
    id: 'author-countries-of-member',
    difficulty: 'hard',
    skill: 'multi-join',
    params:
      "SELECT DISTINCT m.name, strftime('%Y', l.loaned_on) AS year FROM members m JOIN loans l ON l.member_id = m.id JOIN books b ON b.id = l.book_id JOIN authors a ON a.id = b.author_id WHERE a.country IS NOT NULL ORDER BY m.id, year",
    sql: (p) =>
      `SELECT a.country, COUNT(*) AS loans FROM loans l JOIN members m ON m.id = l.member_id JOIN books b ON b.id = l.book_id JOIN authors a ON a.id = b.author_id WHERE m.name = ${lit(p.name!)} AND strftime('%Y', l.loaned_on) = ${lit(p.year!)} AND a.country IS NOT NULL GROUP BY a.country`,
    phrasings: [
      (p) =>
        `In ${p.year}, from which countries were the authors of the books ${p.name} borrowed, and how many loans per country (authors of unknown country left out)?`,
      (p) =>
        `For ${p.name}'s ${p.year} loans, count the loans per author country, skipping authors without a country.`,
      (p) =>
        `Group the books ${p.name} borrowed in ${p.year} by the author's country: give country and number of loans (known countries only).`,
      (p) =>
        `How many of ${p.name}'s loans in ${p.year} were of books by authors from each country? Ignore authors whose country is unknown.`,
    ],
  },
  {
    id: 'days-between-loans',
    difficulty: 'hard',
    skill: 'window',
    params:
      "SELECT m.name, strftime('%Y', l.loaned_on) AS year FROM members m JOIN loans l ON l.member_id = m.id GROUP BY m.id, year HAVING COUNT(*) >= 2 ORDER BY m.id, year",
    sql: (p) =>
      `SELECT l.loaned_on, julianday(l.loaned_on) - julianday(LAG(l.loaned_on) OVER (ORDER BY l.loaned_on, l.id)) AS days FROM loans l JOIN members m ON m.id = l.member_id WHERE m.name = ${lit(p.name!)} AND strftime('%Y', l.loaned_on) = ${lit(p.year!)}`,
    phrasings: [
      (p) =>
        `For each loan ${p.name} started in ${p.year}, how many days had passed since their previous loan that year? Give the loan date and the days (empty for the first; same-day loans by loan id).`,
      (p) =>
        `List ${p.name}'s ${p.year} loan dates with the gap in days to the loan before (none for the first; loans of one day in id order).`,
      (p) =>
        `How long did ${p.name} wait between consecutive loans in ${p.year}? Loan date and days since the preceding ${p.year} loan, ordered by date then loan id.`,
      (p) =>
        `Give every ${p.year} loan date of ${p.name} together with the number of days since that member's previous loan in ${p.year} (NULL for the first).`,
    ],
  },
  {
    id: 'running-loans-by-month',
    difficulty: 'hard',
    skill: 'window',
    params: LOAN_YEARS,
    sql: (p) =>
      `SELECT month, n, SUM(n) OVER (ORDER BY month) FROM (SELECT strftime('%Y-%m', loaned_on) AS month, COUNT(*) AS n FROM loans WHERE strftime('%Y', loaned_on) = ${lit(p.year!)} GROUP BY month)`,
    phrasings: [
      (p) =>
        `For each month of ${p.year}, how many loans were made, and what was the running total since January?`,
      (p) => `Month by month in ${p.year} ('YYYY-MM'): the number of loans and the cumulative number so far.`,
      (p) => `List the months of ${p.year} with their loan counts and a running sum of loans.`,
      (p) => `Give ${p.year}'s loans per month together with the year-to-date total of loans.`,
    ],
  },
  {
    id: 'most-borrowed-per-genre',
    difficulty: 'hard',
    skill: 'window',
    params: LOAN_YEARS,
    sql: (p) =>
      `SELECT genre, title FROM (SELECT b.genre, b.title, ROW_NUMBER() OVER (PARTITION BY b.genre ORDER BY COUNT(*) DESC, b.title) AS rn FROM loans l JOIN books b ON b.id = l.book_id WHERE strftime('%Y', l.loaned_on) = ${lit(p.year!)} GROUP BY b.id) WHERE rn = 1`,
    phrasings: [
      (p) => `For each genre, which book was borrowed most often in ${p.year}? Break ties by title.`,
      (p) =>
        `Name the most borrowed title of every genre in ${p.year} (on a tie, the first title alphabetically).`,
      (p) =>
        `Per genre, give the book with the most ${p.year} loans; ties go to the alphabetically first title.`,
      (p) => `Which title led each genre by number of loans in ${p.year}? Genre and title, ties by title.`,
    ],
  },
];
