import { fullName as name, lit, personIs, type QuestionTemplate, type TemplateParams } from './template.ts';

const PERSON = (p: TemplateParams, alias = 'e') => personIs(p, alias);
const DEPARTMENTS = 'SELECT name FROM departments ORDER BY id';
const CURRENT = 'SELECT first_name, last_name FROM employees WHERE left_on IS NULL ORDER BY id';
const WITH_PROJECTS =
  'SELECT DISTINCT e.first_name, e.last_name FROM employees e JOIN assignments a ON a.employee_id = e.id ORDER BY e.id';
const HIRE_YEARS = "SELECT DISTINCT strftime('%Y', hired_on) AS year FROM employees ORDER BY year";

export const COMPANY_TEMPLATES: QuestionTemplate[] = [
  {
    id: 'job-title-of',
    difficulty: 'easy',
    skill: 'single-table',
    params: 'SELECT first_name, last_name FROM employees ORDER BY id',
    sql: (p) => `SELECT job_title FROM employees e WHERE ${PERSON(p)}`,
    phrasings: [
      (p) => `What is the job title of ${name(p)}?`,
      (p) => `Which position does ${name(p)} hold?`,
      (p) => `What does ${name(p)} work as? Give the job title.`,
      (p) => `Look up ${name(p)}'s job title.`,
    ],
  },
  {
    id: 'department-location',
    difficulty: 'easy',
    skill: 'single-table',
    params: DEPARTMENTS,
    sql: (p) => `SELECT location FROM departments WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `In which city is the ${p.name} department located?`,
      (p) => `Where does the ${p.name} department have its office?`,
      (p) => `Give the location of the ${p.name} department.`,
      (p) => `Which city hosts the ${p.name} department?`,
    ],
  },
  {
    id: 'department-budget',
    difficulty: 'easy',
    skill: 'single-table',
    params: DEPARTMENTS,
    sql: (p) => `SELECT budget FROM departments WHERE name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `What is the yearly budget of the ${p.name} department?`,
      (p) => `How much money does ${p.name} get per year?`,
      (p) => `Give the annual budget of the department ${p.name}.`,
      (p) => `What budget is the ${p.name} department allocated each year?`,
    ],
  },
  {
    id: 'hired-in-year',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params: HIRE_YEARS,
    sql: (p) =>
      `SELECT first_name, last_name FROM employees WHERE strftime('%Y', hired_on) = ${lit(p.year!)}`,
    phrasings: [
      (p) => `Which employees were hired in ${p.year}? Give first and last names.`,
      (p) => `List everyone (first and last name) whose hire date falls in ${p.year}.`,
      (p) => `Who joined the company during ${p.year}?`,
      (p) => `Name the people hired in the year ${p.year}.`,
    ],
  },
  {
    id: 'left-in-year',
    difficulty: 'easy',
    skill: 'dates-and-nulls',
    params:
      "SELECT DISTINCT strftime('%Y', left_on) AS year FROM employees WHERE left_on IS NOT NULL ORDER BY year",
    sql: (p) => `SELECT first_name, last_name FROM employees WHERE strftime('%Y', left_on) = ${lit(p.year!)}`,
    phrasings: [
      (p) => `Who left the company in ${p.year}? First and last names.`,
      (p) => `List the employees whose leaving date is in ${p.year}.`,
      (p) => `Which people stopped working here during ${p.year}?`,
      (p) => `Name everyone who departed from the company in ${p.year}.`,
    ],
  },
  {
    id: 'title-above-salary',
    difficulty: 'easy',
    skill: 'single-table',
    params:
      "SELECT DISTINCT job_title, n FROM employees, (SELECT 60000 AS n UNION ALL SELECT 90000) WHERE job_title NOT LIKE 'Head of%' ORDER BY job_title, n",
    sql: (p) =>
      `SELECT first_name, last_name, salary FROM employees WHERE job_title = ${lit(p.job_title!)} AND salary > ${p.n}`,
    phrasings: [
      (p) => `Which employees with the title ${p.job_title} earn more than ${p.n} a year? Names and salary.`,
      (p) => `List first name, last name and salary of every ${p.job_title} paid above ${p.n}.`,
      (p) => `Who among the ${p.job_title}s has a salary over ${p.n}? Give names and salary.`,
      (p) => `Name the ${p.job_title} staff (with salary) whose yearly pay exceeds ${p.n}.`,
    ],
  },
  {
    id: 'headcount-of-department',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params: DEPARTMENTS,
    sql: (p) =>
      `SELECT COUNT(*) FROM employees e JOIN departments d ON d.id = e.department_id WHERE d.name = ${lit(p.name!)} AND e.left_on IS NULL`,
    phrasings: [
      (p) => `How many people currently work in the ${p.name} department (not counting those who left)?`,
      (p) => `What is the current headcount of ${p.name}?`,
      (p) => `Count the employees of ${p.name} who have not left the company.`,
      (p) => `How many active employees does the ${p.name} department have?`,
    ],
  },
  {
    id: 'manager-of',
    difficulty: 'medium',
    skill: 'join',
    params: 'SELECT first_name, last_name FROM employees WHERE manager_id IS NOT NULL ORDER BY id',
    sql: (p) =>
      `SELECT m.first_name, m.last_name FROM employees e JOIN employees m ON m.id = e.manager_id WHERE ${PERSON(p)}`,
    phrasings: [
      (p) => `Who is ${name(p)}'s manager?`,
      (p) => `To whom does ${name(p)} report? Give first and last name.`,
      (p) => `Name the direct manager of ${name(p)}.`,
      (p) => `Which employee manages ${name(p)}?`,
    ],
  },
  {
    id: 'direct-reports',
    difficulty: 'medium',
    skill: 'join',
    params:
      'SELECT DISTINCT m.first_name, m.last_name FROM employees m JOIN employees e ON e.manager_id = m.id ORDER BY m.id',
    sql: (p) =>
      `SELECT e.first_name, e.last_name FROM employees e JOIN employees m ON m.id = e.manager_id WHERE ${PERSON(p, 'm')}`,
    phrasings: [
      (p) => `Who reports directly to ${name(p)}?`,
      (p) => `List the first and last names of ${name(p)}'s direct reports.`,
      (p) => `Which employees have ${name(p)} as their manager?`,
      (p) => `Name the people managed directly by ${name(p)}.`,
    ],
  },
  {
    id: 'projects-of-employee',
    difficulty: 'medium',
    skill: 'join',
    params: WITH_PROJECTS,
    sql: (p) =>
      `SELECT pr.name, a.role FROM assignments a JOIN employees e ON e.id = a.employee_id JOIN projects pr ON pr.id = a.project_id WHERE ${PERSON(p)}`,
    phrasings: [
      (p) => `On which projects does ${name(p)} work, and in what role?`,
      (p) => `List the projects of ${name(p)} with the role they have on each.`,
      (p) => `Give project name and role for every assignment of ${name(p)}.`,
      (p) => `What projects is ${name(p)} assigned to? Project and role.`,
    ],
  },
  {
    id: 'average-salary-of-department',
    difficulty: 'medium',
    skill: 'aggregation',
    params: DEPARTMENTS,
    sql: (p) =>
      `SELECT ROUND(AVG(e.salary), 2) FROM employees e JOIN departments d ON d.id = e.department_id WHERE d.name = ${lit(p.name!)} AND e.left_on IS NULL`,
    phrasings: [
      (p) => `What is the average salary of the current employees of ${p.name}, rounded to 2 decimals?`,
      (p) => `On average, how much do people still working in ${p.name} earn? Round to 2 decimals.`,
      (p) => `Compute the mean yearly salary in the ${p.name} department, leavers excluded (2 decimals).`,
      (p) => `Give ${p.name}'s average pay over employees who have not left, to 2 decimals.`,
    ],
  },
  {
    id: 'project-hours',
    difficulty: 'medium',
    skill: 'aggregation',
    params: 'SELECT name FROM projects ORDER BY id',
    sql: (p) =>
      `SELECT SUM(a.hours_per_week) FROM assignments a JOIN projects pr ON pr.id = a.project_id WHERE pr.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `How many hours per week are assigned to the project "${p.name}" in total?`,
      (p) => `What is the total weekly effort (hours) on "${p.name}"?`,
      (p) => `Add up the weekly hours of everyone assigned to "${p.name}".`,
      (p) => `How many person-hours a week does "${p.name}" get?`,
    ],
  },
  {
    id: 'running-projects-of-department',
    difficulty: 'medium',
    skill: 'dates-and-nulls',
    params:
      'SELECT DISTINCT d.name FROM departments d JOIN projects p ON p.department_id = d.id WHERE p.ended_on IS NULL ORDER BY d.id',
    sql: (p) =>
      `SELECT pr.name FROM projects pr JOIN departments d ON d.id = pr.department_id WHERE d.name = ${lit(p.name!)} AND pr.ended_on IS NULL`,
    phrasings: [
      (p) => `Which projects of the ${p.name} department are still running?`,
      (p) => `List the ${p.name} projects that have no end date.`,
      (p) => `Name the ongoing projects owned by ${p.name}.`,
      (p) => `What projects does ${p.name} own that have not ended yet?`,
    ],
  },
  {
    id: 'best-paid-in-department',
    difficulty: 'medium',
    skill: 'nesting',
    params: DEPARTMENTS,
    sql: (p) =>
      `SELECT e.first_name, e.last_name FROM employees e JOIN departments d ON d.id = e.department_id WHERE d.name = ${lit(p.name!)} AND e.left_on IS NULL AND e.salary = (SELECT MAX(x.salary) FROM employees x WHERE x.department_id = d.id AND x.left_on IS NULL)`,
    phrasings: [
      (p) => `Who is the best-paid current employee of ${p.name}?`,
      (p) => `Which person still working in ${p.name} has the highest salary?`,
      (p) => `Name the top earner among the current staff of the ${p.name} department.`,
      (p) => `In ${p.name}, which active employee earns the most? First and last name.`,
    ],
  },
  {
    id: 'salary-rank-in-department',
    difficulty: 'medium',
    skill: 'window',
    params: CURRENT,
    sql: (p) =>
      `SELECT r FROM (SELECT first_name, last_name, RANK() OVER (PARTITION BY department_id ORDER BY salary DESC) AS r FROM employees WHERE left_on IS NULL) e WHERE ${PERSON(p)}`,
    phrasings: [
      (p) =>
        `Where does ${name(p)} rank by salary among the current employees of their department (1 = best paid, ties share a rank)?`,
      (p) =>
        `What is ${name(p)}'s salary rank within their department, counting only people who have not left?`,
      (p) =>
        `Sort the current staff of ${name(p)}'s department by salary, highest first: which rank does ${name(p)} get (equal salaries, equal rank)?`,
      (p) => `Give the pay rank of ${name(p)} inside their own department, best paid = 1, leavers excluded.`,
    ],
  },
  {
    id: 'salary-vs-department-average',
    difficulty: 'medium',
    skill: 'window',
    params: CURRENT,
    sql: (p) =>
      `SELECT ROUND(salary - avg_salary, 2) FROM (SELECT first_name, last_name, salary, AVG(salary) OVER (PARTITION BY department_id) AS avg_salary FROM employees WHERE left_on IS NULL) e WHERE ${PERSON(p)}`,
    phrasings: [
      (p) =>
        `By how much does ${name(p)}'s salary differ from the average salary of the current employees of their department? Positive if above, rounded to 2 decimals.`,
      (p) =>
        `What is ${name(p)}'s salary minus their department's average salary (current staff only), to 2 decimals?`,
      (p) =>
        `How far above or below the department average (over people who have not left) is ${name(p)} paid? Round to 2 decimals.`,
      (p) =>
        `Give the difference between ${name(p)}'s pay and the mean pay of the current employees in their department (2 decimals).`,
    ],
  },
  {
    id: 'earn-more-than-manager',
    difficulty: 'hard',
    skill: 'join',
    params: DEPARTMENTS,
    sql: (p) =>
      `SELECT e.first_name, e.last_name FROM employees e JOIN employees m ON m.id = e.manager_id JOIN departments d ON d.id = e.department_id WHERE d.name = ${lit(p.name!)} AND e.salary > m.salary`,
    phrasings: [
      (p) => `Which employees of ${p.name} earn more than their manager?`,
      (p) => `List the ${p.name} employees whose salary is higher than their manager's.`,
      (p) => `In the ${p.name} department, who is paid more than the person they report to?`,
      (p) => `Name the people in ${p.name} with a bigger salary than their direct manager.`,
    ],
  },
  {
    id: 'never-assigned',
    difficulty: 'hard',
    skill: 'nesting',
    params: DEPARTMENTS,
    sql: (p) =>
      `SELECT e.first_name, e.last_name FROM employees e JOIN departments d ON d.id = e.department_id WHERE d.name = ${lit(p.name!)} AND e.left_on IS NULL AND e.id NOT IN (SELECT employee_id FROM assignments)`,
    phrasings: [
      (p) => `Which current employees of ${p.name} are not assigned to any project?`,
      (p) => `List the people still in ${p.name} who work on no project.`,
      (p) => `Name the active ${p.name} staff without a single project assignment.`,
      (p) => `Who in the ${p.name} department (leavers excluded) has no assignments?`,
    ],
  },
  {
    id: 'owning-departments-of-team',
    difficulty: 'hard',
    skill: 'multi-join',
    params:
      'SELECT DISTINCT d.name FROM departments d JOIN employees e ON e.department_id = d.id JOIN assignments a ON a.employee_id = e.id ORDER BY d.id',
    sql: (p) =>
      `SELECT DISTINCT pd.name FROM employees e JOIN departments d ON d.id = e.department_id JOIN assignments a ON a.employee_id = e.id JOIN projects pr ON pr.id = a.project_id JOIN departments pd ON pd.id = pr.department_id WHERE d.name = ${lit(p.name!)}`,
    phrasings: [
      (p) => `Which departments own the projects that employees of ${p.name} work on?`,
      (p) => `People from ${p.name} are assigned to projects: list the departments owning those projects.`,
      (p) => `Name each department (once) that owns a project with someone from ${p.name} on it.`,
      (p) => `For the projects staffed by ${p.name} employees, which departments are the owners?`,
    ],
  },
  {
    id: 'project-colleagues',
    difficulty: 'hard',
    skill: 'multi-join',
    params: WITH_PROJECTS,
    sql: (p) =>
      `SELECT DISTINCT o.first_name, o.last_name FROM assignments a JOIN employees e ON e.id = a.employee_id JOIN assignments b ON b.project_id = a.project_id JOIN employees o ON o.id = b.employee_id WHERE ${PERSON(p)} AND o.id <> e.id`,
    phrasings: [
      (p) => `Who works on at least one project together with ${name(p)}?`,
      (p) => `List the colleagues (each once) who share a project with ${name(p)}.`,
      (p) => `Name everyone other than ${name(p)} assigned to one of ${name(p)}'s projects.`,
      (p) => `Which employees are on the same project as ${name(p)}? Give first and last names.`,
    ],
  },
  {
    id: 'project-leads-in-city',
    difficulty: 'hard',
    skill: 'multi-join',
    params:
      'SELECT DISTINCT d.location FROM departments d JOIN projects p ON p.department_id = d.id ORDER BY d.location',
    sql: (p) =>
      `SELECT e.first_name, e.last_name, pr.name FROM assignments a JOIN employees e ON e.id = a.employee_id JOIN projects pr ON pr.id = a.project_id JOIN departments d ON d.id = pr.department_id WHERE d.location = ${lit(p.location!)} AND a.role = 'lead'`,
    phrasings: [
      (p) => `Who leads the projects owned by departments located in ${p.location}? Give names and project.`,
      (p) =>
        `List project leads (first name, last name, project) for projects of departments based in ${p.location}.`,
      (p) => `For each project of a ${p.location} department, name its lead.`,
      (p) =>
        `Which employees hold the lead role on projects whose owning department sits in ${p.location}? Names and project name.`,
    ],
  },
  {
    id: 'top-earners-per-department',
    difficulty: 'hard',
    skill: 'window',
    params: 'SELECT 2 AS k UNION ALL SELECT 3',
    sql: (p) =>
      `SELECT d.name, r.first_name, r.last_name, r.salary FROM (SELECT department_id, first_name, last_name, salary, ROW_NUMBER() OVER (PARTITION BY department_id ORDER BY salary DESC, id) AS rn FROM employees WHERE left_on IS NULL) r JOIN departments d ON d.id = r.department_id WHERE r.rn <= ${p.k}`,
    phrasings: [
      (p) =>
        `For each department, who are its ${p.k} best-paid current employees? Department, names and salary (equal salaries: lower employee id first).`,
      (p) =>
        `List the top ${p.k} earners of every department among people who have not left, with department name, first and last name, salary.`,
      (p) =>
        `Per department, name the ${p.k} highest salaries of the current staff and who earns them (ties by employee id).`,
      (p) =>
        `Give department, employee names and salary for the ${p.k} best-paid active employees of each department.`,
    ],
  },
  {
    id: 'raise-history',
    difficulty: 'hard',
    skill: 'window',
    params:
      'SELECT e.first_name, e.last_name FROM employees e JOIN salary_changes s ON s.employee_id = e.id GROUP BY e.id HAVING COUNT(*) >= 2 ORDER BY e.id',
    sql: (p) =>
      `SELECT s.changed_on, s.new_salary, s.new_salary - LAG(s.new_salary) OVER (ORDER BY s.changed_on) AS change FROM salary_changes s JOIN employees e ON e.id = s.employee_id WHERE ${PERSON(p)}`,
    phrasings: [
      (p) =>
        `List ${name(p)}'s salary history: the date of each change, the new salary and how much it changed from the previous salary (nothing for the first).`,
      (p) =>
        `For every salary change of ${name(p)}, give the date, the salary from then on and the difference to the salary before.`,
      (p) =>
        `Show how ${name(p)}'s pay developed: change date, new salary, and the raise (or cut) compared with the previous salary.`,
      (p) =>
        `Give each date ${name(p)}'s salary changed, the new amount and the step from the prior amount (NULL for the starting salary).`,
    ],
  },
  {
    id: 'hires-running-total',
    difficulty: 'hard',
    skill: 'window',
    params: DEPARTMENTS,
    sql: (p) =>
      `SELECT year, hires, SUM(hires) OVER (ORDER BY year) FROM (SELECT strftime('%Y', e.hired_on) AS year, COUNT(*) AS hires FROM employees e JOIN departments d ON d.id = e.department_id WHERE d.name = ${lit(p.name!)} GROUP BY year)`,
    phrasings: [
      (p) =>
        `For the ${p.name} department, how many people were hired each year, and what is the running total of hires?`,
      (p) => `Year by year, give ${p.name}'s number of hires and the cumulative hires so far.`,
      (p) =>
        `List the hiring years of ${p.name} with the hires in that year and the total hired up to and including it.`,
      (p) =>
        `How did ${p.name} grow? For each year with hires: the year, the hires, and the running sum of hires.`,
    ],
  },
  {
    id: 'project-hours-share',
    difficulty: 'hard',
    skill: 'window',
    params: 'SELECT name FROM projects ORDER BY id',
    sql: (p) =>
      `SELECT e.first_name, e.last_name, ROUND(100.0 * a.hours_per_week / SUM(a.hours_per_week) OVER (), 1) FROM assignments a JOIN employees e ON e.id = a.employee_id JOIN projects pr ON pr.id = a.project_id WHERE pr.name = ${lit(p.name!)}`,
    phrasings: [
      (p) =>
        `For each person on the project "${p.name}", what percentage of the project's weekly hours do they put in? Names and percent to 1 decimal.`,
      (p) =>
        `List everyone assigned to "${p.name}" with their share (in percent, 1 decimal) of the project's total weekly hours.`,
      (p) =>
        `How is the weekly effort on "${p.name}" split? First name, last name, percent of the hours (1 decimal).`,
      (p) =>
        `Give each member of "${p.name}" and the part of the project's hours they cover, as a percentage rounded to one decimal.`,
    ],
  },
];
