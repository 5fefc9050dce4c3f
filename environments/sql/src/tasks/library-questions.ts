import { lit, monthName, type QuestionTemplate } from './template.ts';

const LOAN_YEARS = "SELECT DISTINCT strftime('%Y', loaned_on) AS year FROM loans ORDER BY year";

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
    ],
  },
  {
    id: 'authors-from-country',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT DISTINCT country FROM authors WHERE country IS NOT NULL ORDER BY country',
    sql: (p) => `SELECT name FROM authors WHERE country = ${lit(p.country!)}`,
    phrasings: [(p) => `List the authors from ${p.country}.`],
  },
  {
    id: 'long-books-in-genre',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT DISTINCT genre, n FROM books, (SELECT 400 AS n UNION ALL SELECT 600) ORDER BY genre, n',
    sql: (p) => `SELECT title FROM books WHERE genre = ${lit(p.genre!)} AND pages > ${p.n}`,
    phrasings: [(p) => `Which ${p.genre} books have more than ${p.n} pages?`],
  },
  {
    id: 'members-joined-in-year',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params: "SELECT DISTINCT strftime('%Y', joined_on) AS year FROM members ORDER BY year",
    sql: (p) => `SELECT name FROM members WHERE strftime('%Y', joined_on) = ${lit(p.year!)}`,
    phrasings: [(p) => `Which members joined the library in ${p.year}?`],
  },
  {
    id: 'members-without-email',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params: "SELECT DISTINCT strftime('%Y', joined_on) AS year FROM members ORDER BY year",
    sql: (p) =>
      `SELECT COUNT(*) FROM members WHERE strftime('%Y', joined_on) = ${lit(p.year!)} AND email IS NULL`,
    phrasings: [(p) => `How many members who joined in ${p.year} have no email address on file?`],
  },
  {
    id: 'books-by-author',
    difficulty: 'medium',
    skill: 'join',
    params: 'SELECT DISTINCT a.name FROM authors a JOIN books b ON b.author_id = a.id ORDER BY a.id',
    sql: (p) =>
      `SELECT b.title FROM books b JOIN authors a ON a.id = b.author_id WHERE a.name = ${lit(p.name!)}`,
    phrasings: [(p) => `Which books did ${p.name} write?`, (p) => `List the titles written by ${p.name}.`],
  },
  {
    id: 'author-of-book',
    difficulty: 'medium',
    skill: 'join',
    params: 'SELECT title FROM books ORDER BY id',
    sql: (p) =>
      `SELECT a.name FROM authors a JOIN books b ON b.author_id = a.id WHERE b.title = ${lit(p.title!)}`,
    phrasings: [(p) => `Who wrote "${p.title}"?`, (p) => `Name the author of the book "${p.title}".`],
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
    phrasings: [(p) => `Which books does ${p.name} still have on loan (not yet returned)?`],
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
    phrasings: [(p) => `How many books did ${p.name} borrow in ${p.year}?`],
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
    ],
  },
  {
    id: 'never-borrowed-by-author',
    difficulty: 'hard',
    skill: 'nesting',
    params: 'SELECT DISTINCT a.name FROM authors a JOIN books b ON b.author_id = a.id ORDER BY a.id',
    sql: (p) =>
      `SELECT b.title FROM books b JOIN authors a ON a.id = b.author_id WHERE a.name = ${lit(p.name!)} AND NOT EXISTS (SELECT 1 FROM loans l WHERE l.book_id = b.id)`,
    phrasings: [(p) => `Which books by ${p.name} have never been borrowed?`],
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
    ],
  },
];
