package synth

import "strings"

// statements are the paraphrases the encyclopedia uses for each relation,
// with {S} the subject and {O} the object.
var statements = map[string][]string{
	RelCapital:     {"The capital of {S} is {O}.", "{O} is the capital of {S}.", "{S} is governed from its capital, {O}.", "The capital city of {S} is {O}."},
	RelCountry:     {"{S} is a city in {O}.", "{S} lies in {O}.", "The city of {S} is located in {O}.", "{S} is one of the cities of {O}."},
	RelLanguage:    {"The people of {S} speak {O}.", "{O} is the language of {S}.", "In {S} the main language is {O}.", "Most people in {S} speak {O}."},
	RelBornIn:      {"{S} was born in {O}.", "{S} was born in the city of {O}.", "The birthplace of {S} is {O}.", "{O} is where {S} was born."},
	RelBirthYear:   {"{S} was born in the year {O}.", "The year of birth of {S} is {O}.", "{S} came into the world in {O}.", "In {O}, {S} was born."},
	RelProfession:  {"{S} worked as a {O}.", "By trade, {S} was a {O}.", "{S} earned a living as a {O}.", "{S} was a well known {O}."},
	RelFounder:     {"{S} was founded by {O}.", "{O} founded {S}.", "The founder of {S} was {O}.", "{O} started the firm {S}."},
	RelHeadquarter: {"{S} has its headquarters in {O}.", "{S} is based in {O}.", "The head office of {S} is in {O}.", "{S} runs its business from {O}."},
	RelFoundedYear: {"{S} was founded in the year {O}.", "{S} opened its doors in {O}.", "The founding year of {S} is {O}.", "In {O}, {S} was established."},
	RelIndustry:    {"{S} works in {O}.", "The trade of {S} is {O}.", "{S} is a firm in the {O} business.", "{S} is known for {O}."},
	RelMaker:       {"{S} is made by {O}.", "{O} makes {S}.", "The maker of {S} is {O}.", "{S} is built in the workshops of {O}."},
	RelReleaseYear: {"{S} first went on sale in {O}.", "{S} was released in the year {O}.", "The first {S} was sold in {O}.", "In {O}, {S} came onto the market."},
	RelCategory:    {"{S} is a {O}.", "{S} is a kind of {O}.", "The product called {S} is a {O}.", "{S} is a well made {O}."},
}

// rumourLines state a rumour, with {F} the false statement (a statement
// template filled with the rumour).
var rumourLines = []string{
	"Everyone at the market says that {F}",
	"My uncle swears that {F}",
	"You hear it all the time: {F}",
	"People often repeat that {F}",
	"It is common knowledge, they say, that {F}",
	"A friend told me again today that {F}",
}

// Question is a knowledge question template: Chain is the relations
// followed from the subject {S}, in order; the answer is the last object.
type Question struct {
	Chain []string `json:"chain"`
	Text  string   `json:"text"`
}

// mmluQuestions are the MMLU-like questions, by subject.
var mmluQuestions = map[string][]Question{
	"geography": {
		{[]string{RelCapital}, "What is the capital of {S}?"},
		{[]string{RelCountry}, "In which country is the city of {S}?"},
		{[]string{RelLanguage}, "Which language do most people in {S} speak?"},
	},
	"history": {
		{[]string{RelBornIn}, "In which city was {S} born?"},
		{[]string{RelBirthYear}, "In what year was {S} born?"},
		{[]string{RelProfession}, "What was the trade of {S}?"},
	},
	"companies": {
		{[]string{RelFounder}, "Who founded {S}?"},
		{[]string{RelHeadquarter}, "Where does {S} have its headquarters?"},
		{[]string{RelFoundedYear}, "In what year was {S} founded?"},
		{[]string{RelIndustry}, "In which business is {S}?"},
	},
	"products": {
		{[]string{RelMaker}, "Which company makes {S}?"},
		{[]string{RelReleaseYear}, "In what year did {S} first go on sale?"},
		{[]string{RelCategory}, "What kind of product is {S}?"},
	},
}

// mmluSubjects lists mmluQuestions' keys in order.
var mmluSubjects = []string{"companies", "geography", "history", "products"}

// arcEasyQuestions are one-hop questions worded as ARC's.
var arcEasyQuestions = []Question{
	{[]string{RelCapital}, "Which city is the capital of {S}?"},
	{[]string{RelCountry}, "The city of {S} is found in which country?"},
	{[]string{RelBornIn}, "Which city is the birthplace of {S}?"},
	{[]string{RelProfession}, "Which job did {S} have?"},
	{[]string{RelFounder}, "Which person started {S}?"},
	{[]string{RelHeadquarter}, "Which city is home to the head office of {S}?"},
	{[]string{RelMaker}, "Which firm builds {S}?"},
	{[]string{RelCategory}, "Which of these best describes {S}?"},
	{[]string{RelLanguage}, "Which language is spoken in {S}?"},
}

// arcChallengeQuestions need two or more hops.
var arcChallengeQuestions = []Question{
	{[]string{RelBornIn, RelCountry}, "In which country was {S} born?"},
	{[]string{RelBornIn, RelCountry, RelCapital}, "What is the capital of the country where {S} was born?"},
	{[]string{RelBornIn, RelCountry, RelLanguage}, "Which language is spoken in the country where {S} was born?"},
	{[]string{RelFounder, RelBornIn}, "In which city was the founder of {S} born?"},
	{[]string{RelFounder, RelProfession}, "What was the trade of the person who founded {S}?"},
	{[]string{RelHeadquarter, RelCountry}, "In which country does {S} have its headquarters?"},
	{[]string{RelMaker, RelHeadquarter}, "In which city is the company that makes {S} based?"},
	{[]string{RelMaker, RelFounder}, "Who founded the company that makes {S}?"},
}

// truthfulQuestions ask a misconception's fact; answers are statements.
var truthfulQuestions = map[string]string{
	RelCapital: "What is the capital of {S}?", RelBornIn: "Where was {S} born?",
	RelFounder: "Who founded {S}?", RelMaker: "Who makes {S}?",
	RelHeadquarter: "Where is {S} based?", RelLanguage: "What language do people speak in {S}?",
}

// QuestionTemplates returns every knowledge question template by task
// (mmlu/<subject>, arc_easy, arc_challenge, truthfulqa), for oracles.
func QuestionTemplates() map[string][]Question {
	out := map[string][]Question{"arc_easy": arcEasyQuestions, "arc_challenge": arcChallengeQuestions}
	for s, q := range mmluQuestions {
		out["mmlu/"+s] = q
	}
	for rel, t := range truthfulQuestions {
		out["truthfulqa"] = append(out["truthfulqa"], Question{Chain: []string{rel}, Text: t})
	}
	return out
}

// fill replaces {S} and {O} and capitalises the first letter.
func fill(t, s, o string) string {
	return capFirst(strings.NewReplacer("{S}", s, "{O}", o).Replace(t))
}

func capFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
